"""What arrived outside the services' APIs while the demo ran: the e-mails and SMS the local mail relay and SMS
gateway wrote, and the dead letters on Kafka. The mail folder, the SMS log and the topics keep every earlier
run's too, so each is counted from where it stood when the run began."""

import os
from datetime import datetime, timezone
from pathlib import Path

from aiokafka import TopicPartition
from karmayogi_contracts import TOPICS, dead_letter_topic
from karmayogi_runtime.dead_letter_topics import read_dead_letters

DEAD_LETTER_TOPICS = [dead_letter_topic(t) for t in TOPICS]


class MessagesOnDisk:
    """The e-mails and SMS the local mail relay and SMS gateway have written since this was made. Each reading
    looks only at what is new: the mail folder and the SMS log keep every earlier run's messages (hundreds of
    thousands after a few runs), and the progress display reads them once a second."""

    def __init__(self, data_dir: Path) -> None:
        self.mail_folder, self.sms_log = data_dir / "mail", data_dir / "sms" / "messages.ndjson"
        # The relay names each e-mail by the UTC time it arrived (notifications.local_servers), so the names
        # from this stamp on are this run's, and comparing names finds them without opening a file.
        self.since = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        self.sms_read = self.sms_log.stat().st_size if self.sms_log.exists() else 0  # earlier runs' SMS, skipped
        self.sms = 0
        self.newest_mail: Path | None = None

    def count(self) -> dict[str, int]:
        return {"e-mails": self._mail(), "SMS": self._sms()}

    def _mail(self) -> int:
        """One per Message-ID: a re-sent copy has the same file suffix."""
        if not self.mail_folder.exists():
            return 0
        names = [name for name in os.listdir(self.mail_folder) if name >= self.since and name.endswith(".eml")]
        if names:
            self.newest_mail = self.mail_folder / max(names)
        return len({name.rsplit("-", 1)[-1] for name in names})

    def _sms(self) -> int:
        """One per line, read on from where the last reading stopped."""
        if self.sms_log.exists():
            with self.sms_log.open("rb") as log:
                log.seek(self.sms_read)
                new = log.read()
            self.sms += new.count(b"\n")
            self.sms_read += new.rfind(b"\n") + 1  # a line still being written is read whole next time
        return self.sms


async def dead_lettered_since(bootstrap: str, ends: dict[TopicPartition, int]) -> int:
    """The failures dead-lettered after `ends` (`topics.end_offsets` of DEAD_LETTER_TOPICS), each once, as `karmayogi-ops dead-letters list` counts them."""
    letters = await read_dead_letters(bootstrap, DEAD_LETTER_TOPICS)
    return sum(1 for letter in letters if letter.offset >= ends.get(TopicPartition(letter.topic, letter.partition), 0))
