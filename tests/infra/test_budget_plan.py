"""What an initial sync tells the bulk gate it will spend (infra/budget.planned_calls)."""

from __future__ import annotations

from core.actions import Plan, SfDelete, Unit
from infra.budget import planned_calls


def deletes(n: int) -> Plan:
    return Plan(units=tuple(Unit(f"k{i}", None, None, (SfDelete(f"s{i}", f"00U{i}", "R-12"),))
                            for i in range(n)))  # fmt: skip


def test_R30_writes_count_by_sobject_collection_plus_one_for_new_people():
    assert planned_calls(Plan()) == 1
    assert planned_calls(deletes(1)) == 2
    assert planned_calls(deletes(200)) == 2  # one collection holds 200 records
    assert planned_calls(deletes(450)) == 4
