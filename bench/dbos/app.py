"""The DBOS 3.4 peer of the Baton benchmark: the same workloads as DBOS workflows behind HTTP.

Started by `baton-bench` as `python app.py --port P --db FILE --stub URL`; one process, one
uvicorn worker, DBOS's SQLite system database in FILE. Endpoints:

- `POST /w1`: workflow of 3 steps of pure work (x + 1), waits for its result.
- `POST /w2`: workflow of 3 steps, each a GET of `{stub}/echo`, waits for its result.
- `POST /w4/{id}?delay_ms=N`: starts (does not wait for) a workflow with that id whose 3 steps
  GET `{stub}/delay/N`, `{stub}/gate/N` and `{stub}/delay/N`; `202` once DBOS has recorded the
  workflow.
- `POST /wait/{id}`: starts (does not wait for) a workflow with that id that blocks in
  `DBOS.recv("decision", 7200)` and then returns the message (W3, W6); `202` once recorded.
- `POST /wait/{id}/respond`: `DBOS.send(id, {"approved": true}, "decision")`, then waits for
  the workflow's result (`get_result`, polling its status every 5 ms) and returns it (W3).
- `GET /waiting`: `{"waiting": n}`, the number of `recv` calls of this process now registered
  with DBOS's notification listener (read from DBOS's internal `notifications_map`: DBOS has no
  public count of blocked `recv` calls; a workflow recovered after a restart counts once it
  blocks in `recv` again).
- `GET /inbox`: the first page of waiting workflows, the peer of Baton's `GET /api/v1/inbox`:
  `DBOS.list_workflows` of status PENDING, oldest first, 50, without inputs and outputs (W6).
- `GET /runs/{id}`: `{"status": ...}` of a workflow (DBOS statuses: PENDING, SUCCESS, ERROR, ...).
- `GET /info`: versions and the SQLite settings of the system database file.
- `GET /healthz`.

Every outbound call carries `Idempotency-Key: {workflow id}:{step id}`, as Baton's carry
run id, task reference and attempt.

Workflows, steps and the W1/W2 endpoints are synchronous functions (FastAPI runs them on its
thread pool, DBOS starts background workflows on its own executor threads): on this workload
that measured faster than the same code written with `async def`, DBOS async steps and an
`httpx.AsyncClient` (W1 p50 10.6 vs 14.9 ms, W2 51 vs 24 runs/s on the 2-core machine).
"""

import argparse
import sqlite3
import sys
from importlib.metadata import version

import httpx
import uvicorn
from fastapi import FastAPI, Response

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos._dbos import _get_dbos_instance

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--db", required=True, help="SQLite system database file")
parser.add_argument("--stub", required=True, help="base URL of the HTTP stub")
args = parser.parse_args()

config: DBOSConfig = {
    "name": "baton-bench-peer",
    "system_database_url": f"sqlite:///{args.db}",
    "log_level": "WARNING",
}
DBOS(config=config)

# One client shared by all threads; no pool limit, as Baton's outbound client has none.
stub = httpx.Client(timeout=60.0, limits=httpx.Limits(max_connections=None, max_keepalive_connections=1024))


@DBOS.step()
def add_one(x: int) -> int:
    return x + 1


@DBOS.step()
def call_stub(path: str) -> dict:
    key = f"{DBOS.workflow_id}:{DBOS.step_id}"
    response = stub.get(args.stub + path, headers={"Idempotency-Key": key})
    response.raise_for_status()
    return response.json()


@DBOS.workflow()
def w1(x: int) -> int:
    for _ in range(3):
        x = add_one(x)
    return x


@DBOS.workflow()
def w2() -> dict:
    out: dict = {}
    for _ in range(3):
        out = call_stub("/echo")
    return out


@DBOS.workflow()
def w4(delay_ms: int) -> dict:
    call_stub(f"/delay/{delay_ms}")
    call_stub(f"/gate/{delay_ms}")
    return call_stub(f"/delay/{delay_ms}")


@DBOS.workflow()
def wait_decision() -> dict:
    # Blocks its executor thread until the message arrives (or 2 hours pass).
    decision = DBOS.recv("decision", timeout_seconds=7200)
    return {"approved": bool(decision and decision.get("approved"))}


app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@app.post("/w1")
def run_w1() -> dict:
    return {"status": "SUCCESS", "output": w1(0)}


@app.post("/w2")
def run_w2() -> dict:
    return {"status": "SUCCESS", "output": w2()}


@app.post("/w4/{workflow_id}", status_code=202)
def start_w4(workflow_id: str, delay_ms: int = 200) -> dict:
    with SetWorkflowID(workflow_id):
        handle = DBOS.start_workflow(w4, delay_ms)
    return {"id": handle.get_workflow_id()}


@app.post("/wait/{workflow_id}", status_code=202)
def start_wait(workflow_id: str) -> dict:
    with SetWorkflowID(workflow_id):
        handle = DBOS.start_workflow(wait_decision)
    return {"id": handle.get_workflow_id()}


@app.post("/wait/{workflow_id}/respond")
def respond(workflow_id: str) -> dict:
    DBOS.send(workflow_id, {"approved": True}, "decision")
    output = DBOS.retrieve_workflow(workflow_id).get_result(polling_interval_sec=0.005)
    return {"status": "SUCCESS", "output": output}


@app.get("/waiting")
async def waiting() -> dict:
    return {"waiting": len(_get_dbos_instance()._sys_db.notifications_map.snapshot())}


@app.get("/inbox")
async def inbox() -> dict:
    workflows = await DBOS.list_workflows_async(
        status="PENDING", limit=50, sort_desc=False, load_input=False, load_output=False
    )
    return {"items": [{"id": w.workflow_id, "name": w.name, "createdAt": w.created_at} for w in workflows]}


@app.get("/runs/{workflow_id}")
async def run_status(workflow_id: str, response: Response) -> dict:
    status = await DBOS.get_workflow_status_async(workflow_id)
    if status is None:
        response.status_code = 404
        return {"status": None}
    return {"status": status.status}


@app.get("/info")
async def info() -> dict:
    # DBOS sets no journal_mode or synchronous pragma: what a fresh connection reports is what
    # DBOS's connections use (journal_mode is a property of the file, synchronous the default).
    conn = sqlite3.connect(args.db)
    try:
        journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
    finally:
        conn.close()
    return {
        "dbos": version("dbos"),
        "fastapi": version("fastapi"),
        "uvicorn": version("uvicorn"),
        "httpx": version("httpx"),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "journal_mode": journal_mode,
        "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(synchronous, str(synchronous)),
    }


if __name__ == "__main__":
    DBOS.launch()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
