import pytest
from pydantic import ValidationError

from notifications.settings import NotificationsSettings

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
