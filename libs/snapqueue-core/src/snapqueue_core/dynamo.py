"""DynamoDB's attribute-value encoding, for the plain JSON-like values we store.

boto3 has a serializer, but services use aiobotocore only; this is the small subset we need.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def to_attr(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, dict):
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attr(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def from_attr(attr: dict[str, Any]) -> Any:
    ((kind, value),) = attr.items()
    if kind == "NULL":
        return None
    if kind in ("S", "BOOL"):
        return value
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    raise TypeError(f"unsupported DynamoDB attribute type {kind}")


def to_item(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: to_attr(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {k: from_attr(v) for k, v in item.items()}


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise ValueError("DynamoDB cannot store NaN or infinity")
    return str(value) if not isinstance(value, float) else repr(value)
