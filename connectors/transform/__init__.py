"""Mapping, routing and row transforms between source and target (no Django).

`mapping` reads and validates the task's mapping JSON; `plan` compiles it per source table into
TablePlans that the snapshot and the stream both apply; `expression` is the row-filter language.
"""

from connectors.transform.mapping import MappingSpec, parse_mapping
from connectors.transform.plan import Context, Mapper, MappingError, TablePlan, TransformError

__all__ = ["Context", "Mapper", "MappingError", "MappingSpec", "TablePlan", "TransformError", "parse_mapping"]
