-- A results store written by bakeoff at commit 0a93b09: + trial_changes, schema version 1
-- (a real `bakeoff run add-numbers --repeats 2`, interrupted after repeat 0; tests/evals/old_stores/README.md)
CREATE TABLE judge_calibrations (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    judge TEXT NOT NULL,
    calibrated INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, judge)
);
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
INSERT INTO "runs" VALUES('old-0a93b09',1.79652685448698306086e+09,1.79652685888656306269e+09,'interrupted','{"run_id":"old-0a93b09","task_paths":["@TASK@"],"task_names":["add-numbers"],"models":["script:@SCRIPT@"],"repeats":2,"judges":[],"pairwise":false,"weights":{"check":0.6,"judge":0.4,"quality":0.6,"speed":0.2,"cost":0.2,"quality_bar":0.7,"bands":{"fast_s":10.0,"slow_s":1000.0,"cheap_usd":0.01,"expensive_usd":10.0,"letters":{"S":0.9,"A":0.8,"B":0.7,"C":0.6,"D":0.5}}},"max_cost_usd":null,"agent":{"max_turns":20,"max_output_tokens":4096,"timeout_s":300.0,"max_cost_usd":null,"allow_commands":false,"unsafe_no_sandbox":false,"allow_network":false,"allow_git_writes":false,"protected":{"also":[],"allow":[]},"read_only":false,"command_timeout_s":60.0,"system_prompt":"You are a nano agent: a careful software engineer working inside one workspace directory. You act only through the tools you are given; a change described in prose or in a code block does nothing. The functions in the workspace''s code are not tools.\n1. Look first: list_directory shows the files, read_file shows a file''s content (get_file_info shows only its size).\n2. Change files with write_file (the complete new content) or edit_file (old_str copied exactly from the file). A file holds exactly what the task asks for; a .py file holds Python code.\n3. Every path is relative to the workspace root, for example ''hello.py'' or ''src/app.py'', never an absolute path such as /workspace/hello.py.\n4. When the task is done, reply with a short final answer and no tool call. If the task asks a question, the final answer is only what it asks for, for example just the number.\nExample: for \"total() in invoice.py returns the wrong value; fix it\", call read_file with {\"path\": \"invoice.py\"}, see `return price + qty`, call edit_file with {\"path\": \"invoice.py\", \"old_str\": \"return price + qty\", \"new_str\": \"return price * qty\"}, then answer: Fixed total()."},"judge_sees_checks":false,"created_at":1796526854.4838238,"labels":{"script:@SCRIPT@":"script:good"},"tags":{},"until_decided":null}');
CREATE TABLE trial_changes (
    run_id TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    before_sha256 TEXT,  -- NULL: the fixture had no file here
    content BLOB,  -- NULL: deleted, or not kept (then not_kept says why)
    not_kept TEXT,
    PRIMARY KEY (run_id, task, model, repeat, path)
);
INSERT INTO "trial_changes" VALUES('old-0a93b09','add-numbers','script:@SCRIPT@',0,'calc.py','added',NULL,X'6465662061646428612C2062293A0A2020202072657475726E2061202B20620A',NULL);
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
    facts TEXT,  -- before `record`: read without walking the record's overflow pages
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, task, model, repeat)
);
INSERT INTO "trials" VALUES('old-0a93b09','add-numbers','script:@SCRIPT@',0,'passed',1,6.24632529998052632436e-02,0.0,1.79652685867706608767e+09,'["add-numbers","implement",1,"script:@SCRIPT@",0,"passed",[true,"script:@SCRIPT@","script","completed",null],[2,1,0.0,0.06246325299980526,8.107399980872287e-05,0.06161624700007451],[0.0,0.0],{"input_tokens":0,"output_tokens":0,"cached_tokens":0,"cache_write_tokens":0,"reasoning_tokens":0,"unreported":0},[[2.3569999939354602e-05,null],[5.750399986936827e-05,null]],[true,4,4],[],[true,3.1536999813397415e-05,1796526854.4876447,1796526858.677066],"completed"]','{"run_id":"old-0a93b09","task":"add-numbers","category":"implement","difficulty":1,"model":"script:@SCRIPT@","repeat":0,"status":"passed","agent":{"ok":true,"answer":"Wrote calc.py with add(a, b).","model":"script:@SCRIPT@","provider":"script","stop_reason":"completed","error":null,"turns":2,"tool_calls":1,"usage":{"input_tokens":0,"output_tokens":0,"cached_tokens":0,"cache_write_tokens":0,"reasoning_tokens":0,"unreported":0},"cost_usd":0.0,"duration_s":0.06246325299980526,"model_time_s":0.00008107399980872287,"tool_time_s":0.06161624700007451,"wait_time_s":0.0,"warmup_s":0.0,"requests":[{"latency_s":0.000023569999939354602,"ttft_s":0.000023569999939354602,"output_tokens":0,"output_tps":null,"retries":0,"wait_s":0.0},{"latency_s":0.00005750399986936827,"ttft_s":0.00005750399986936827,"output_tokens":0,"output_tps":null,"retries":0,"wait_s":0.0}],"transcript":[{"role":"system","content":"You are a nano agent: a careful software engineer working inside one workspace directory. You act only through the tools you are given; a change described in prose or in a code block does nothing. The functions in the workspace''s code are not tools.\n1. Look first: list_directory shows the files, read_file shows a file''s content (get_file_info shows only its size).\n2. Change files with write_file (the complete new content) or edit_file (old_str copied exactly from the file). A file holds exactly what the task asks for; a .py file holds Python code.\n3. Every path is relative to the workspace root, for example ''hello.py'' or ''src/app.py'', never an absolute path such as /workspace/hello.py.\n4. When the task is done, reply with a short final answer and no tool call. If the task asks a question, the final answer is only what it asks for, for example just the number.\nExample: for \"total() in invoice.py returns the wrong value; fix it\", call read_file with {\"path\": \"invoice.py\"}, see `return price + qty`, call edit_file with {\"path\": \"invoice.py\", \"old_str\": \"return price + qty\", \"new_str\": \"return price * qty\"}, then answer: Fixed total().","tool_calls":[],"tool_call_id":null,"name":null,"is_error":false,"duration_s":null},{"role":"user","content":"Create a file named calc.py in the workspace root with a function add(a, b) that returns the sum of its two arguments.","tool_calls":[],"tool_call_id":null,"name":null,"is_error":false,"duration_s":null},{"role":"assistant","content":"","tool_calls":[{"id":"call_0_0","name":"write_file","arguments":{"path":"calc.py","content":"def add(a, b):\n    return a + b\n"},"malformed":null}],"tool_call_id":null,"name":null,"is_error":false,"duration_s":null},{"role":"tool","content":"Created calc.py (32 bytes)","tool_calls":[],"tool_call_id":"call_0_0","name":"write_file","is_error":false,"duration_s":0.06161624700007451},{"role":"assistant","content":"Wrote calc.py with add(a, b).","tool_calls":[],"tool_call_id":null,"name":null,"is_error":false,"duration_s":null}],"sandboxed":true},"diff":"--- /dev/null\n+++ b/calc.py\n@@ -0,0 +1,2 @@\n+def add(a, b):\n+    return a + b\n","check":{"passed":true,"exit_code":0,"output":"....                                                                     [100%]\n4 passed in 0.02s\n","duration_s":2.147,"timed_out":false,"tests_passed":4,"tests_total":4,"sandboxed":true},"judges":[],"tamper":[],"sandboxed":true,"slot_wait_s":0.000031536999813397415,"started_at":1796526854.4876447,"finished_at":1796526858.677066}');
PRAGMA user_version = 1;
