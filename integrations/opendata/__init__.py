"""The opendata integration: reads published shelter files (GSI, 自治体標準, municipal CSVs)."""
