"""Settings of the notifications service: NOTIFICATIONS_X first, then plain X (see ServiceSettings)."""

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import SettingsConfigDict

from karmayogi_runtime.settings import ServiceSettings


CHANNELS = 2  # e-mail and SMS, each with its own senders
OTHER_CONNECTIONS = 3  # the consumer's batch, the outbox relay, the HTTP API (readiness probe included)
# The most waits one send makes, each up to its timeout: the lease must outlast them all. aiosmtplib's timeout
# applies to each wait of a successful send on a new connection: TCP connect, greeting, EHLO, STARTTLS, its TLS
# handshake, EHLO again, AUTH (two exchanges for LOGIN or CRAM-MD5), MAIL, RCPT, DATA and the reply to the
# message. (A refusal can add one, RSET or another AUTH method, but a refused send delivered nothing that a
# resend could duplicate.) httpx's applies to TCP connect, TLS handshake, writing the headers and the body,
# and reading the answer's headers and body.
SMTP_WAITS_PER_SEND = 12
SMS_WAITS_PER_SEND = 6


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_")

    smtp_host: str = Field("127.0.0.1", description="SMTP relay host.")
    smtp_port: int = Field(2525, ge=1, le=65535, description="SMTP relay port.")
    smtp_username: str | None = Field(None, description="SMTP user, when the relay wants authentication.")
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_use_tls: bool = Field(False, description="Connect with implicit TLS (port 465 style).")
    smtp_timeout_seconds: float = Field(10.0, gt=0, le=300, description=(
        "Longest wait for each step of an SMTP send (connect, each command); SENDING_LEASE_SECONDS must be at "
        f"least {SMTP_WAITS_PER_SEND} times it."))
    mail_from: str = Field("Karmayogi Training <no-reply@karmayogi.local>", description="From: header of e-mails.")
    message_id_domain: str = Field("notifications.karmayogi", description="Right-hand side of Message-IDs.")

    sms_gateway_url: str = Field("http://127.0.0.1:8025", description="Base URL of the SMS gateway (POST /messages).")
    sms_gateway_token: SecretStr | None = Field(None, description="Bearer token for the SMS gateway.")
    sms_sender_id: str = Field("KRMYGI", description="Sender id shown on the phone.")
    sms_timeout_seconds: float = Field(10.0, gt=0, le=300, description=(
        "Longest wait for each step of an SMS request (connect, write, read); SENDING_LEASE_SECONDS must be at "
        f"least {SMS_WAITS_PER_SEND} times it."))

    email_per_second: float = Field(50.0, gt=0, description=(
        "Most e-mails the deployment sends per second, every replica together (the relay's contracted rate)."))
    sms_per_second: float = Field(10.0, gt=0, description=(
        "Most SMS the deployment sends per second, every replica together (the gateway's contracted rate)."))
    sender_workers: int = Field(2, ge=1, le=32, description="Concurrent senders per channel (one connection each).")
    sender_batch_size: int = Field(100, ge=1, le=1000, description=(
        "Most deliveries a sender claims per round; fewer when its share of the rate cannot send them within "
        "SENDING_LEASE_SECONDS."))
    sender_idle_seconds: float = Field(0.5, gt=0, le=60, description="Pause when nothing is due.")
    retry_base_seconds: float = Field(5.0, gt=0, description="First retry delay after a transient failure.")
    retry_max_seconds: float = Field(900.0, gt=0, description="Longest retry delay (exponential backoff cap).")
    give_up_after_hours: float = Field(72.0, gt=0, description="A delivery still failing after this is failed.")
    sending_lease_seconds: float = Field(120.0, gt=0, description=(
        "A claimed row not reached, or left 'sending' by a crash, this long is claimed again; it must outlast "
        f"one send ({SMTP_WAITS_PER_SEND} x SMTP_TIMEOUT_SECONDS, {SMS_WAITS_PER_SEND} x SMS_TIMEOUT_SECONDS)."))
    certificate_download_suffix: str = Field(
        "/pdf", description="Appended to a certificate's verify_url to give its PDF download link; starts with '/'."
    )

    def per_second(self, channel: str) -> float:
        """The rate limit of `channel` ('email' or 'sms')."""
        return {"email": self.email_per_second, "sms": self.sms_per_second}[channel]

    @model_validator(mode="after")
    def _tls_and_credentials(self) -> "NotificationsSettings":
        if self.smtp_starttls and self.smtp_use_tls:
            raise ValueError("Set only one of SMTP_STARTTLS and SMTP_USE_TLS.")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("Set both SMTP_USERNAME and SMTP_PASSWORD, or neither.")
        if not self.sms_gateway_url.startswith(("http://", "https://")):
            raise ValueError("SMS_GATEWAY_URL must be an http(s) URL.")
        return self

    @field_validator("certificate_download_suffix")
    @classmethod
    def _download_link_is_beside_the_verification_page(cls, value: str) -> str:
        # Appended to https://.../verify/<id>: without the slash every certificate e-mail's download link would
        # be https://.../verify/<id>pdf, a page that does not exist.
        if not value.startswith("/"):
            raise PydanticCustomError(
                "download_suffix", "must start with '/', such as /pdf (it is '{value}'): it is appended to the "
                "certificate's verification link, https://.../verify/<id>", {"value": value})
        return value

    @model_validator(mode="after")
    def _connections_left_over(self) -> "NotificationsSettings":
        # Each sender holds a pooled connection while it works through its batch; were they all taken, the
        # consumer, the outbox relay and the readiness probe would wait behind the senders.
        senders = CHANNELS * self.sender_workers
        if senders + OTHER_CONNECTIONS > self.database_pool_size:
            raise ValueError(
                f"SENDER_WORKERS={self.sender_workers} per channel holds {senders} database connections (e-mail "
                f"and SMS), and the consumer, the outbox relay and the HTTP API need {OTHER_CONNECTIONS} more: set "
                f"DATABASE_POOL_SIZE to at least {senders + OTHER_CONNECTIONS} (it is {self.database_pool_size}), "
                "or lower SENDER_WORKERS."
            )
        return self

    @model_validator(mode="after")
    def _a_send_fits_in_the_lease(self) -> "NotificationsSettings":
        # Marking a row 'sending' renews its lease; a send still going when the lease runs out lets another
        # worker claim the row and send it again, a second copy.
        longest = max(SMTP_WAITS_PER_SEND * self.smtp_timeout_seconds, SMS_WAITS_PER_SEND * self.sms_timeout_seconds)
        if self.sending_lease_seconds < longest:
            raise ValueError(
                f"SENDING_LEASE_SECONDS={self.sending_lease_seconds:g} is shorter than one send may take "
                f"({SMTP_WAITS_PER_SEND} x SMTP_TIMEOUT_SECONDS={self.smtp_timeout_seconds:g}, "
                f"{SMS_WAITS_PER_SEND} x SMS_TIMEOUT_SECONDS={self.sms_timeout_seconds:g}): set it to at least "
                f"{longest:g}, or lower those timeouts."
            )
        return self
