"""``field__any=[...]``: membership in a list of values as ONE parameter.

``field__in=[...]`` sends one parameter per value: compiling and planning ``IN (%s, %s, ...)``
with thousands of ids costs more than the query (the nightly chunk's paid bills, issue 12).
``__any`` sends the list as one array: ``field = ANY(%s)`` on PostgreSQL and
``field IN (SELECT value FROM json_each(%s))`` on SQLite (the list as one JSON text). Same
rows as ``__in``; an empty list matches nothing.
"""
from __future__ import annotations

import json

from django.db.models import Field, ForeignObject, Lookup


@ForeignObject.register_lookup  # related fields keep lookups of their own (bill_id__any)
@Field.register_lookup
class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        values = [self.lhs.output_field.get_db_prep_value(v, connection, prepared=False) for v in value]
        if connection.vendor == "postgresql":
            return "%s", [values]
        return "%s", [json.dumps(values)]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]
        return f"{lhs} IN (SELECT value FROM json_each({rhs}))", [*lhs_params, *rhs_params]  # noqa: S608 - column SQL from the compiler, values as parameters
