"""LoggerClient implementations: `local` (same process and loop) and `remote` (over TCP);
`rtoc_jsonsocket` is a blocking client that frames exactly as RTOC's does (CLI, tests, benchmarks).
"""
