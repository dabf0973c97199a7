"""Settings of the attendance service: the shared ones (database, Kafka, HTTP) plus its own, read as
`ATTENDANCE_<NAME>` first, then `<NAME>`."""

from datetime import timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from karmayogi_runtime.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class AttendanceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ATTENDANCE_")

    timezone: str = Field("Asia/Kolkata", description="Whose calendar day decides whether a session is within its batch's dates.")
    http_port: int = Field(8102, ge=1, le=65535)

    def zone(self) -> tzinfo:
        try:
            return ZoneInfo(self.timezone)
        except ZoneInfoNotFoundError:  # a slim image without tz data: India has one offset and no DST
            return timezone(timedelta(hours=5, minutes=30))
