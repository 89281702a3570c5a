-- A results store written by bakeoff at commit 04a6cde: runs, trials, pair_verdicts; no schema version
-- (a real `bakeoff run add-numbers --repeats 2`, interrupted after repeat 0; tests/evals/old_stores/README.md)
CREATE TABLE pair_verdicts (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    task TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    judge TEXT NOT NULL,
    model_a TEXT NOT NULL,
    model_b TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, task, repeat, judge, model_a, model_b)
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    status TEXT NOT NULL,
    spec TEXT NOT NULL
);
INSERT INTO "runs" VALUES('old-04a6cde',1.7965268049450547695e+09,1.7965268054302129746e+09,'interrupted','{"run_id":"old-04a6cde","task_paths":["@TASK@"],"task_names":["add-numbers"],"models":["script:@SCRIPT@"],"repeats":2,"judges":[],"pairwise":false,"weights":{"check":0.6,"judge":0.4,"quality":0.6,"speed":0.2,"cost":0.2,"quality_bar":0.7},"max_cost_usd":null,"agent":{"max_turns":20,"max_output_tokens":4096,"timeout_s":300.0,"max_cost_usd":null,"allow_commands":false,"read_only":false,"command_timeout_s":60.0,"system_prompt":"You are a nano agent: a careful software engineer working inside one workspace directory. Use the tools to inspect and change files. Every path is relative to the workspace root, for example ''hello.py'' or ''src/app.py'' — never an absolute path such as /workspace/hello.py. Call only the tools you are given. When the task is done, reply with a short final answer and no tool call."},"created_at":1796526804.9437175}');
CREATE TABLE trials (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    status TEXT NOT NULL,
    passed INTEGER,
    duration_s REAL NOT NULL,
    cost_usd REAL,
    finished_at REAL NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, task, model, repeat)
);
INSERT INTO "trials" VALUES('old-04a6cde','add-numbers','script:@SCRIPT@',0,'completed',1,5.59813999643665738403e-04,0.0,1.79652680540593171114e+09,'{"run_id":"old-04a6cde","task":"add-numbers","category":"implement","difficulty":1,"model":"script:@SCRIPT@","repeat":0,"status":"completed","agent":{"ok":true,"answer":"Wrote calc.py with add(a, b).","model":"script:@SCRIPT@","provider":"script","stop_reason":"completed","error":null,"turns":2,"tool_calls":1,"usage":{"input_tokens":0,"output_tokens":0,"cached_tokens":0,"cache_write_tokens":0,"reasoning_tokens":0},"cost_usd":0.0,"duration_s":0.0005598139996436657,"model_time_s":0.000031849000151851214,"tool_time_s":0.00033550799980730517,"wait_time_s":0.0,"warmup_s":0.0,"requests":[{"latency_s":0.000023129000055632787,"ttft_s":0.000023129000055632787,"output_tokens":0,"output_tps":null,"retries":0,"wait_s":0.0},{"latency_s":8.720000096218428e-6,"ttft_s":8.720000096218428e-6,"output_tokens":0,"output_tps":null,"retries":0,"wait_s":0.0}],"transcript":[{"role":"system","content":"You are a nano agent: a careful software engineer working inside one workspace directory. Use the tools to inspect and change files. Every path is relative to the workspace root, for example ''hello.py'' or ''src/app.py'' — never an absolute path such as /workspace/hello.py. Call only the tools you are given. When the task is done, reply with a short final answer and no tool call.","tool_calls":[],"tool_call_id":null,"name":null,"is_error":false,"duration_s":null},{"role":"user","content":"Create a file named calc.py in the workspace root with a function add(a, b) that returns the sum of its two arguments.","tool_calls":[],"tool_call_id":null,"name":null,"is_error":false,"duration_s":null},{"role":"assistant","content":"","tool_calls":[{"id":"call_0_0","name":"write_file","arguments":{"path":"calc.py","content":"def add(a, b):\n    return a + b\n"},"malformed":null}],"tool_call_id":null,"name":null,"is_error":false,"duration_s":null},{"role":"tool","content":"Created calc.py (32 bytes)","tool_calls":[],"tool_call_id":"call_0_0","name":"write_file","is_error":false,"duration_s":0.00033550799980730517},{"role":"assistant","content":"Wrote calc.py with add(a, b).","tool_calls":[],"tool_call_id":null,"name":null,"is_error":false,"duration_s":null}]},"diff":"--- /dev/null\n+++ b/calc.py\n@@ -0,0 +1,2 @@\n+def add(a, b):\n+    return a + b\n","check":{"passed":true,"exit_code":0,"output":"....                                                                     [100%]\n4 passed in 0.02s\n","duration_s":0.452,"timed_out":false,"tests_passed":4,"tests_total":4},"judges":[],"slot_wait_s":0.0002903439999499824,"started_at":1796526804.9466982,"finished_at":1796526805.4059317}');
PRAGMA user_version = 0;
