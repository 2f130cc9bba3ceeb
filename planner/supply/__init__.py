"""Supply: candidate replica configs, their prices, and capacity tables from a capacity source."""
