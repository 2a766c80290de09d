"""The physics: pure array functions from a cell design to its stack, energy, lifetime, cost and feasibility, and the fused sweep kernel."""
