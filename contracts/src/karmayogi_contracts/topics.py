"""`python -m karmayogi_contracts.topics`: every topic and its dead-letter topic, one per line.

The local stack script creates topics from this output, so the list lives in one place.
"""

from __future__ import annotations

from .registry import TOPICS, dead_letter_topic


def all_topics() -> list[str]:
    return [name for topic in TOPICS for name in (topic, dead_letter_topic(topic))]


if __name__ == "__main__":
    print("\n".join(all_topics()))
