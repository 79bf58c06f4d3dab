"""Test helpers: a private RabbitMQ vhost per test, free ports, services run in-process."""
