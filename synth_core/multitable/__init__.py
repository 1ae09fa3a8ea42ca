"""Multi-table datasets: related tables read, described, learned with HMA, generated and checked.

Import from the modules (importing the package alone loads none of them):
`dataset` (several files, a zip or a folder; demos), `metadata` (relationships, detection,
diagram), `checks` (problems before fitting, referential integrity), `hma` (fit, sample,
estimate), `design` (related tables from prose by an LLM, seed rows, amplified with HMA),
`evaluation` (sdmetrics' multi-table reports), `plots`, `export` (zip or folder of tables).
"""
