"""Alerts, webhook subscribers and deliveries in the shared SQLite file (migration 10).

Each record is kept whole as JSON beside the columns that queries filter and sort on.
"""

from __future__ import annotations

from datetime import datetime

from finsentry.schemas import Alert, AlertState, Delivery, DeliveryStatus, Subscriber
from finsentry.store.sqlitedb import SqliteDatabase


class SqliteAlertStore:
    """``AlertStore`` on SQLite: one row per incident, upserted by id."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def put_alert(self, alert: Alert) -> None:
        """Insert or replace by id (durable on return)."""
        row = (alert.id, alert.rule, alert.key, alert.state, alert.updated_at.timestamp(), alert.model_dump_json())
        with self._db.lock, self._db.conn:
            self._db.conn.execute(
                "INSERT INTO alerts (id, rule, key, state, updated, payload) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET rule=excluded.rule, key=excluded.key, state=excluded.state,"
                " updated=excluded.updated, payload=excluded.payload",
                row,
            )

    def get_alert(self, alert_id: str) -> Alert | None:
        """One alert, or None."""
        with self._db.lock:
            row = self._db.conn.execute("SELECT payload FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return Alert.model_validate_json(row[0]) if row else None

    def list_alerts(
        self, state: AlertState | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Alert]:
        """Newest first (by ``updated_at``), optionally one state and updated at or after ``since``."""
        sql = "SELECT payload FROM alerts WHERE updated >= ?"
        args: list[object] = [since.timestamp() if since else float("-inf")]
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        sql += " ORDER BY updated DESC, id LIMIT ?"
        args.append(limit)
        with self._db.lock:
            rows = self._db.conn.execute(sql, args).fetchall()
        return [Alert.model_validate_json(r[0]) for r in rows]


class SqliteSubscriberStore:
    """``SubscriberStore`` on SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def put_subscriber(self, sub: Subscriber) -> None:
        """Insert or replace by id."""
        with self._db.lock, self._db.conn:
            self._db.conn.execute(
                "INSERT INTO subscribers (id, created, payload) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET payload=excluded.payload",
                (sub.id, sub.created_at.timestamp(), sub.model_dump_json()),
            )

    def list_subscribers(self) -> list[Subscriber]:
        """Every subscriber, oldest first."""
        with self._db.lock:
            rows = self._db.conn.execute("SELECT payload FROM subscribers ORDER BY created, id").fetchall()
        return [Subscriber.model_validate_json(r[0]) for r in rows]

    def remove_subscriber(self, sub_id: str) -> bool:
        """Delete; False when it did not exist."""
        with self._db.lock, self._db.conn:
            cur = self._db.conn.execute("DELETE FROM subscribers WHERE id = ?", (sub_id,))
        return cur.rowcount > 0


class SqliteDeliveryStore:
    """``DeliveryStore`` on SQLite: one row per webhook-id with every attempt inside."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def put_delivery(self, delivery: Delivery) -> None:
        """Insert or replace by id."""
        row = (delivery.id, delivery.subscriber_id, delivery.status, delivery.created_at.timestamp())
        with self._db.lock, self._db.conn:
            self._db.conn.execute(
                "INSERT INTO deliveries (id, subscriber_id, status, created, payload) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET status=excluded.status, payload=excluded.payload",
                (*row, delivery.model_dump_json()),
            )

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery, or None."""
        with self._db.lock:
            row = self._db.conn.execute("SELECT payload FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        return Delivery.model_validate_json(row[0]) if row else None

    def list_deliveries(self, status: DeliveryStatus | None = None, limit: int = 100) -> list[Delivery]:
        """Newest first."""
        sql, args = "SELECT payload FROM deliveries", list[object]()
        if status is not None:
            sql += " WHERE status = ?"
            args.append(status)
        sql += " ORDER BY created DESC, id LIMIT ?"
        args.append(limit)
        with self._db.lock:
            rows = self._db.conn.execute(sql, args).fetchall()
        return [Delivery.model_validate_json(r[0]) for r in rows]
