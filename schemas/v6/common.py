"""The 6.20 enums and bounds, with the names of the 6.20 reference client
(vrt-lss-account 6.20.2258)."""

SERVICE_NAMES = (
    "UNIVERSAL",
    "ROUTING",
    "ACCOUNT",
    "ADMIN",
    "STUDIO",
    "MONITOR",
    "PACKER",
    "AGRO",
    "STOCK",
    "LONGHAUL",
    "CLUSTER",
    "CARGOTIMETABLE",
)
METHOD_GROUPS = (
    "NOTRACE",
    "TRACE",
    "PLAN",
    "ACTUALIZE",
    "REFINE",
    "CONVERT",
    "ANALYTICS",
    "PREDICT",
    "VALIDATE",
    "ROUTE",
    "MATRIX",
    "PACK",
)
FLOW_CONVERTS = ("ORIGIN", "JSON", "XLSX")
# 6.20 counts points up to 10^7 (7.9: 10^8).
MAX_POINTS = 10**7
