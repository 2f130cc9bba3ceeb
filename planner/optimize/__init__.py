"""The optimizer: fleet problem, MILP formulation, solver adapter, infeasibility diagnosis."""
