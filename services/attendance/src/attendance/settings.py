"""Settings of the attendance service: the shared ones (database, Kafka, HTTP) plus its own, read as
`ATTENDANCE_<NAME>` first, then `<NAME>`."""

from datetime import tzinfo

from karmayogi_runtime import calendar
from karmayogi_runtime.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class AttendanceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ATTENDANCE_")

    timezone: str = Field(calendar.STATE_TIMEZONE, description="Whose calendar day decides whether a session is within its batch's dates.")
    http_port: int = Field(8102, ge=1, le=65535)

    def zone(self) -> tzinfo:
        return calendar.zone(self.timezone)
