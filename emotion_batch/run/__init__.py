"""Running a batch (see core.py for the picture): one run core and two executors.

    context.py   RunContext: store, settings, hash, model version, force (built once)
    engine.py    EngineConfig: how the work is spread (engine, actors, segments, retries, ...)
    discover.py  the input files, each described as a WorkItem (fingerprint, probe)
    decide.py    one verdict per file: todo / done / duplicate / busy / unreadable
    units.py     a unit (a video or a segment of one) analysed and written by a UnitRunner
    record.py    results and manifest rows to storage; the run's summary
    persons.py   the step over the whole collection, after every unit (person ids)
    core.py      analyse(): executor + collection step
    local/       the local executor (one process)
    distributed/ the Ray executor (the only part that imports Ray)
    storage/     the results on disk: store, manifest, claims, segments, current rows, output checks
    console/     what the user sees: the bar, the run log, native and library output, signals
"""
