"""A small inventory service: items, stock movements, and a report.

Used only as calibration text: it exercises the kinds of code a repository holds (classes,
dataclasses, error handling, parsing, iteration, docstrings and comments).
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Dict, Iterable, List, Optional


class InventoryError(Exception):
    """Raised when a movement would make stock negative or names an unknown item."""


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    unit_price: float

    def __post_init__(self) -> None:
        if not self.sku or not self.sku.isalnum():
            raise InventoryError(f"bad SKU {self.sku!r}: letters and digits only")
        if self.unit_price < 0:
            raise InventoryError(f"{self.sku}: a price cannot be negative")


@dataclass
class Movement:
    sku: str
    quantity: int
    day: date
    note: str = ""


@dataclass
class Inventory:
    items: Dict[str, Item] = field(default_factory=dict)
    stock: Dict[str, int] = field(default_factory=lambda: defaultdict(int))
    history: List[Movement] = field(default_factory=list)

    def add_item(self, item: Item) -> None:
        if item.sku in self.items:
            raise InventoryError(f"{item.sku} exists already")
        self.items[item.sku] = item

    def move(self, sku: str, quantity: int, day: date, note: str = "") -> int:
        """Applies a movement (positive = received, negative = shipped) and returns the new stock."""
        if sku not in self.items:
            raise InventoryError(f"unknown item {sku}")
        new = self.stock[sku] + quantity
        if new < 0:
            raise InventoryError(f"{sku}: only {self.stock[sku]} in stock, cannot ship {-quantity}")
        self.stock[sku] = new
        self.history.append(Movement(sku, quantity, day, note))
        return new

    def value(self) -> float:
        return sum(self.items[s].unit_price * n for s, n in self.stock.items())

    def movements(self, sku: Optional[str] = None, since: Optional[date] = None) -> Iterable[Movement]:
        for m in self.history:
            if sku is not None and m.sku != sku:
                continue
            if since is not None and m.day < since:
                continue
            yield m

    def low_stock(self, threshold: int = 5) -> List[str]:
        return sorted(s for s in self.items if self.stock[s] < threshold)


def load_items(text: str) -> List[Item]:
    """Reads `sku,name,price` lines (with a header row) into items."""
    rows = csv.DictReader(io.StringIO(text))
    out = []
    for line, row in enumerate(rows, start=2):
        try:
            out.append(Item(row["sku"].strip(), row["name"].strip(), float(row["price"])))
        except (KeyError, ValueError) as e:
            raise InventoryError(f"line {line}: {e}") from e
    return out


def report(inv: Inventory) -> str:
    width = max((len(i.name) for i in inv.items.values()), default=4)
    lines = [f"{'item'.ljust(width)}  stock     value"]
    for sku in sorted(inv.items):
        item = inv.items[sku]
        n = inv.stock[sku]
        lines.append(f"{item.name.ljust(width)}  {n:5d}  {n * item.unit_price:8.2f}")
    lines.append(f"{'total'.ljust(width)}         {inv.value():8.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    inv = Inventory()
    for item in load_items("sku,name,price\nA1,bolt,0.10\nB2,nut,0.05\nC3,washer,0.02\n"):
        inv.add_item(item)
    inv.move("A1", 100, date(2024, 1, 2), "first delivery")
    inv.move("B2", 40, date(2024, 1, 3))
    inv.move("A1", -30, date(2024, 1, 9), "order 17")
    print(report(inv))
    print("low:", ", ".join(inv.low_stock()))
