"""Settings of the enrolment service: the shared ones (database, Kafka, HTTP) plus its own, read as
`ENROLMENT_<NAME>` first, then `<NAME>`."""

from karmayogi_runtime.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class EnrolmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENROLMENT_")

    http_port: int = Field(8101, ge=1, le=65535)
