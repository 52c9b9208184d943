"""What a staff member may see and do, from their routing unit.

* a grid worker: their grid unit's cases;
* a residents' committee: its own unit and every unit below it (its grids);
* a street office: its own unit and everything below it (committees and their grids);
* a department: what was dispatched to it (cases whose handling unit is the department);
* an admin: everything.

A case is "in scope" when its current handling unit is in the set. A handoff without a unit belongs
to the dispatcher (the street office by default). Out of scope is answered exactly like "does not
exist" (404), so case numbers and handoff ids do not leak.

Personal data (the phone number, and phone / ID numbers inside resident text) is shown only to staff
of the unit handling the case; everybody else sees them masked (bot.privacy.mask_text).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Optional

from bot.privacy import mask_text
from bot.staff import Staff
from bot.tickets.routing import RoutingTable


@dataclass(frozen=True)
class Scope:
    user: Staff
    unit_ids: Optional[FrozenSet[str]]  # None: every unit (admin)
    dispatcher: str

    @property
    def everything(self) -> bool:
        return self.unit_ids is None

    def covers(self, unit_id: Optional[str]) -> bool:
        if self.unit_ids is None:
            return True
        return (unit_id or self.dispatcher) in self.unit_ids

    def handles(self, unit_id: Optional[str]) -> bool:
        """Staff of the unit handling the case: may see personal data unmasked."""
        return self.user.unit_id is not None and self.user.unit_id == (unit_id or self.dispatcher)

    def can_dispatch(self) -> bool:
        """May send a case to any unit (the dispatcher's staff and admins)."""
        return self.covers(self.dispatcher)

    def personal(self, unit_id: Optional[str], text):
        """``text`` as this person may see it for a case handled by ``unit_id``."""
        return text if self.handles(unit_id) else mask_text(text)

    def sql_units(self):
        """For queries: None (no filter) or the list of unit ids (with None meaning the dispatcher)."""
        return None if self.unit_ids is None else sorted(self.unit_ids)


def descendants(routing: RoutingTable, unit_id: str) -> FrozenSet[str]:
    """The unit and every unit whose parent chain reaches it."""
    found = {unit_id}
    changed = True
    while changed:
        changed = False
        for unit in routing.units.values():
            if unit.parent in found and unit.id not in found:
                found.add(unit.id)
                changed = True
    return frozenset(found)


def scope_for(user: Staff, routing: RoutingTable) -> Scope:
    if user.is_admin:
        return Scope(user, None, routing.dispatcher)
    unit = routing.unit(user.unit_id)
    if unit is None:  # a unit removed from the routing file: sees nothing until fixed
        return Scope(user, frozenset(), routing.dispatcher)
    if unit.level == "department":
        return Scope(user, frozenset({unit.id}), routing.dispatcher)
    return Scope(user, descendants(routing, unit.id), routing.dispatcher)
