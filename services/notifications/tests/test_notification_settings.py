import pytest
from pydantic import ValidationError

from notifications.settings import NotificationsSettings

pytestmark = pytest.mark.unit

REQUIRED = {"database_url": "postgresql://karmayogi@127.0.0.1/notifications", "kafka_bootstrap_servers": "127.0.0.1:9092"}


def test_the_defaults_leave_connections_for_the_consumer_the_relay_and_the_api():
    settings = NotificationsSettings(**REQUIRED)
    assert 2 * settings.sender_workers + 3 <= settings.database_pool_size


def test_more_senders_than_the_pool_can_spare_is_refused_with_the_pool_size_they_need():
    with pytest.raises(ValidationError) as refused:
        NotificationsSettings(**REQUIRED, sender_workers=8, database_pool_size=10)
    assert "set DATABASE_POOL_SIZE to at least 19 (it is 10), or lower SENDER_WORKERS" in str(refused.value)


def test_more_senders_with_a_pool_to_match_are_accepted():
    assert NotificationsSettings(**REQUIRED, sender_workers=8, database_pool_size=19).sender_workers == 8


def test_a_lease_shorter_than_one_send_may_take_is_refused_with_the_lease_it_needs():
    with pytest.raises(ValidationError) as refused:
        NotificationsSettings(**REQUIRED, sending_lease_seconds=2, smtp_timeout_seconds=10, sms_timeout_seconds=10)
    assert ("SENDING_LEASE_SECONDS=2 is shorter than one send may take (12 x SMTP_TIMEOUT_SECONDS=10, "
            "6 x SMS_TIMEOUT_SECONDS=10): set it to at least 120, or lower those timeouts.") in str(refused.value)


@pytest.mark.parametrize(("smtp", "sms", "lease"), [(10, 10, 119.9), (1, 30, 179)])
def test_the_lease_must_outlast_the_slower_channels_send(smtp, sms, lease):
    with pytest.raises(ValidationError, match="SENDING_LEASE_SECONDS"):
        NotificationsSettings(**REQUIRED, smtp_timeout_seconds=smtp, sms_timeout_seconds=sms,
                              sending_lease_seconds=lease)


def test_the_defaults_and_a_lease_to_match_shorter_timeouts_are_accepted():
    assert NotificationsSettings(**REQUIRED).sending_lease_seconds == 120
    assert NotificationsSettings(**REQUIRED, sending_lease_seconds=6, smtp_timeout_seconds=0.5,
                                 sms_timeout_seconds=1).sending_lease_seconds == 6


@pytest.mark.parametrize("suffix", ["pdf", "", "?download=pdf"])
def test_a_download_suffix_that_would_not_make_a_path_beside_the_verification_page_is_refused(suffix):
    with pytest.raises(ValidationError) as refused:
        NotificationsSettings(**REQUIRED, certificate_download_suffix=suffix)
    assert "must start with '/', such as /pdf" in str(refused.value)


def test_the_download_suffix_may_name_another_path_beside_the_verification_page():
    assert NotificationsSettings(**REQUIRED).certificate_download_suffix == "/pdf"
    assert NotificationsSettings(**REQUIRED, certificate_download_suffix="/download.pdf").certificate_download_suffix == "/download.pdf"
