"""Money is an integer count of minor units (fen for CNY). Nothing here ever uses a float."""

from __future__ import annotations

# Largest single transfer stopay accepts: 10 billion yuan. Larger values are typing errors, and the
# sum of an entry must stay far below 2**63.
MAX_TRANSFER_MINOR = 10**12
MAX_TRANSFERS_PER_ENTRY = 200

_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$"}


def format_minor(amount_minor: int, currency: str = "CNY") -> str:
    """``5800000000, "CNY"`` -> ``"¥58,000,000.00"``; exact, for people."""
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), 100)
    symbol = _SYMBOLS.get(currency, currency + " ")
    return f"{sign}{symbol}{major:,}.{minor:02d}"


def parse_major(text: str) -> int:
    """``"600"`` or ``"1,234.5"`` (yuan) -> minor units, exactly; at most two decimals."""
    cleaned = text.strip().replace(",", "")
    whole, dot, frac = cleaned.partition(".")
    if not whole.isdigit() or (dot and not (frac.isdigit() and len(frac) <= 2)):
        raise ValueError(f"{text!r} is not an amount in yuan with at most two decimals")
    return int(whole) * 100 + int((frac or "0").ljust(2, "0"))


def split_largest_remainder(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Splits ``total`` in proportion to ``weights`` so that the parts add up to ``total`` exactly.

    Each part gets the floor of its exact share; the units left over go one each to the largest
    remainders (ties to the key that sorts first). Weights must be non-negative with a positive sum.
    """
    if total < 0:
        raise ValueError("total must not be negative")
    weight_sum = sum(weights.values())
    if weight_sum <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError("weights must be non-negative with a positive sum")
    parts = {key: total * w // weight_sum for key, w in weights.items()}
    remainders = sorted(weights, key=lambda k: (-(total * weights[k] % weight_sum), k))
    for key in remainders[: total - sum(parts.values())]:
        parts[key] += 1
    return parts
