import datetime

from migration_app.engine.history import Change, statuses_by_day

D = datetime.date


def test_replay_gives_the_status_at_the_end_of_each_day():
    current = {1: "in_production", 2: "analysis", 3: "not_started"}
    changes = [
        Change(1, D(2026, 3, 2), "testing", "in_production"),
        Change(2, D(2026, 3, 3), "not_started", "analysis"),
        Change(1, D(2026, 3, 1), "development", "testing"),
    ]
    changes.sort(key=lambda c: c.on)
    days = [D(2026, 2, 28), D(2026, 3, 1), D(2026, 3, 2), D(2026, 3, 4)]
    replay = dict(statuses_by_day(current, changes, days))
    assert replay[D(2026, 2, 28)] == {1: "development", 2: "not_started", 3: "not_started"}
    assert replay[D(2026, 3, 1)] == {1: "testing", 2: "not_started", 3: "not_started"}
    assert replay[D(2026, 3, 2)] == {1: "in_production", 2: "not_started", 3: "not_started"}
    assert replay[D(2026, 3, 4)] == current
