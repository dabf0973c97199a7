"""Settings of the attendance service: the shared ones (database, Kafka, HTTP, the state's time zone) plus
its own, read as `ATTENDANCE_<NAME>` first, then `<NAME>`."""

from karmayogi_runtime.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class AttendanceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ATTENDANCE_")

    http_port: int = Field(8102, ge=1, le=65535)
