"""What every Karmayogi service runs on.

Settings, the PostgreSQL pool and migrations, the one Kafka broker factory, the transactional outbox and
its relay, the idempotent inbox, the consumer runner with dead-lettering and parking, health, and logs.
"""
