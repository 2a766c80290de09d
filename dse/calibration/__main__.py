"""``python -m dse.calibration``: regenerate the shipped coefficients and print the report."""

from __future__ import annotations

from dse.calibration import write_default

if __name__ == "__main__":  # pragma: no cover
    print(write_default().report_text())
