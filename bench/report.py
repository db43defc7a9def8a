"""bench/results/latest.json (everything measured) and latest.md (the same, to read)."""
import json
import math
import statistics
from pathlib import Path

from bench.costs import PRICE_SOURCES, PRICES

RESULTS = Path(__file__).resolve().parent / "results"


def finite(value):
    """The results with every infinity (a message that never arrived) as null, which JSON can hold."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def write(results: dict, folder: Path = RESULTS, name: str = "latest") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    data, text = folder / f"{name}.json", folder / f"{name}.md"
    data.write_text(json.dumps(finite(results), indent=2) + "\n")
    text.write_text(markdown(results))
    return data, text


# Formatting -------------------------------------------------------------------------------------------------

def ms(value) -> str:
    if value is None or math.isinf(value):
        return "late"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def number(value, digits: int = 1) -> str:
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:,.0f}"


def dollars(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:.3f}"


def ratio(numerator: float, denominator: float) -> str:
    if not denominator or math.isinf(numerator) or math.isinf(denominator):
        return "n/a"
    return f"{numerator / denominator:,.1f}x"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(row) + " |"
                                                                          for row in rows]


# Sections ----------------------------------------------------------------------------------------------------

def all_costs(results: dict) -> list[dict]:
    """Every operation measured, in reading order: 1:1, group sends by size and members online, the rest."""
    crowds = results.get("crowds", {})
    measured = crowds.get("costs", []) + ([crowds["acknowledging"]] if "acknowledging" in crowds else [])
    group_sends = sorted((cost for cost in measured if "group" in cost),
                         key=lambda cost: (cost["group"]["members"], cost["group"]["recipients_online"],
                                           cost.get("acknowledging", False)))
    return (results.get("direct_costs", []) + group_sends + [cost for cost in measured if "group" not in cost]
            + [case["cost"] for case in results.get("sync", {}).get("cases", [])]
            + [run[key] for run in crowds.get("naive", []) for key in ("direct_cost", "naive_cost")])


def cost_by_label(results: dict, label: str) -> dict | None:
    return next((cost for cost in all_costs(results) if cost["label"] == label), None)


def headline(results: dict) -> list[str]:
    lines = []
    if results.get("latency"):
        first = results["latency"][0]
        lines.append(f"- 1:1 send to receive at {number(first['offered'])} msg/s: p50 {ms(first['delivery']['p50'])},"
                     f" p99 {ms(first['delivery']['p99'])}")
    floor, cpu = results.get("moto_request_ms", {}).get("before"), stack_cpu_ms(results)
    for found in results.get("sustained", {}).get("searches", []):
        lines.append(f"- highest sustained 1:1 rate with p99 under {number(found['p99_target_ms'])} ms:"
                     f" {number(found['rate'])} msg/s, each probe held"
                     f" {number(results['plan']['probe_seconds'])} s" + (f" (moto's own GetItem: {ms(floor)})"
                                                                          if floor else ""))
    if cpu:
        lines.append(f"- the stack's process spends {ms(cpu)} of CPU per 1:1 message: one interpreter's ceiling is"
                     f" {number(1000 / cpu, 0)} msg/s")
    for fanout in results.get("crowds", {}).get("fanout", [])[-1:]:
        lines.append(f"- {fanout['members']}-member group, all online: send to last recipient {ms(fanout['to_last'])}"
                     f" (median of {fanout['runs']})")
    for case in results.get("sync", {}).get("cases", []):
        cost = case["cost"]
        lines.append(f"- {case['label']}: {ms(case['ms'])}, {number(cost['dynamodb_requests'])} DynamoDB requests,"
                     f" {number(cost['read_units'])} RCU" + (f", {case['frames']} frames" if "frames" in case else ""))
    sync_targets = results.get("sync", {}).get("targets", [])
    if sync_targets:
        met = [target for target in sync_targets if target["met"]]
        lines.append(f"- issue 18's sync targets: {len(met)} of {len(sync_targets)} met"
                     + "".join(f"; missed: {target['case']}, {target['metric'].replace('_', ' ')}"
                               f" {number(target['value'])} > {number(target['limit'])}"
                               for target in sync_targets if not target["met"]))
    if "coldstart" in results:
        cold = results["coldstart"]
        lines.append(f"- cold start: import app / import boto3 = {cold['ratio']:.2f}"
                     f" ({ms(cold['app_ms'])} / {ms(cold['boto3_ms'])}; target {cold['target']})")
    acknowledging = results.get("crowds", {}).get("acknowledging")
    if acknowledging and acknowledging["hottest_partitions"]:
        hottest = acknowledging["hottest_partitions"][0]
        lines.append(f"- {acknowledging['group']['members']}-member group, every member online answering delivered"
                     f" and read: the hottest key takes {hottest['partition_seconds']:.3f} partition-seconds per"
                     f" message ({number(hottest['read_units'])} RCU, {number(hottest['write_units'])} WCU on"
                     f" `{hottest['key']}`): {number(1 / hottest['partition_seconds'], 0)} messages a second per"
                     " group within DynamoDB's partition limits")
    receipt = next((cost for cost in all_costs(results) if cost["label"].startswith("read receipt in a")
                    and "member group" in cost["label"]), None)
    if receipt:
        lines.append(f"- {receipt['label']}: {number(receipt['read_units'])} RCU,"
                     f" {number(receipt['write_units'])} WCU, {number(receipt['dynamodb_requests'])} DynamoDB requests")
    direct = cost_by_label(results, "send 1:1, recipient online")
    if direct:
        lines.append(f"- a 1:1 message costs {dollars(direct['dollars_per_million']['total'])} per million at on-demand"
                     f" prices ({number(direct['dynamodb_requests'])} DynamoDB requests,"
                     f" {number(direct['write_units'] + direct['index_write_units'])} WCU)")
    for run in results.get("crowds", {}).get("naive", [])[-1:]:
        naive = run["timings"]["naive"]
        cost_ratio = ratio(run["naive_cost"]["dollars_per_million"]["total"],
                           run["direct_cost"]["dollars_per_million"]["total"])
        lines.append(f"- naive baseline at {run['connected']:,} connected users: {ms(naive['to_last'])} to the last"
                     f" socket, {cost_ratio}"
                     f" the cost of a Parley 1:1 message")
    return lines


def latency_section(results: dict) -> list[str]:
    rows = [[number(level["offered"]), str(level["delivery"]["n"]), str(level["delivery"]["late"]),
             ms(level["delivery"]["p50"]), ms(level["delivery"]["p95"]), ms(level["delivery"]["p99"]),
             ms(level["delivery"]["max"]), ms(level["sent"]["p50"]), ms(level["sent"]["p99"])]
            for level in results["latency"]]
    plan = results["plan"]
    return ["## 1:1 latency under offered load", "",
            f"Open-loop Poisson arrivals over {plan['pairs']} chat pairs; {plan['load_runs']} runs of"
            f" {number(plan['load_seconds'])} s per load after a {number(plan['warmup_seconds'])} s warm-up; each"
            f" percentile is the median over the runs (n and late are totals; late: not at the recipient within"
            f" {number(plan['drain_seconds'])} s of its `sent`). Send to receive: from just before"
            " the send to the recipient's socket. `sent`: to the sender's own acknowledgement.", "",
            *table(["offered msg/s", "n", "late", "p50", "p95", "p99", "max", "`sent` p50", "`sent` p99"], rows), ""]


def stack_cpu_ms(results: dict) -> float | None:
    """The median over the sustained-rate probes of the CPU the stack's process spent per message."""
    probes = [probe["stack_cpu_ms"] for probe in results.get("sustained", {}).get("probes", [])
              if "stack_cpu_ms" in probe]
    return statistics.median(probes) if probes else None


def sustained_section(results: dict) -> list[str]:
    found = results["sustained"]
    rows = [[number(probe["offered"]), number(probe["seconds"]), str(probe["delivery"]["n"]),
             str(probe["delivery"]["late"]), ms(probe["delivery"]["p50"]), ms(probe["delivery"]["p99"]),
             ms(probe["stack_cpu_ms"]), f"{probe['offered'] * probe['stack_cpu_ms'] / 10:.0f}%"]
            for probe in found["probes"]]
    targets = [f"- **{number(search['rate'])} msg/s** of 1:1 messages with p99 under"
               f" {number(search['p99_target_ms'])} ms and nothing late (first failing rate:"
               f" {number(search['first_failing']) if search['first_failing'] else 'none up to the limit'})"
               for search in found["searches"]]
    return ["## Highest sustained rate", "",
            "Found by doubling the offered rate, then bisecting the last step; one run per probe, shared by the"
            " targets. CPU per message: the stack's process (gateway, handlers, moto), from its own CPU clock;"
            " busy: offered rate times that, the share of one core it needed. The stack runs in one Python"
            " interpreter, so one core is its ceiling whatever the machine has.", "", *targets, "",
            *table(["offered msg/s", "seconds", "n", "late", "p50", "p99", "CPU per message", "busy"], rows), ""]


def fanout_section(results: dict) -> list[str]:
    rows = [[str(f["members"]), str(f["recipients"]), ms(f["to_first"]), ms(f["to_last"]), ms(f["to_last_max"]),
             ms(f["sent"]), "yes" if f["complete"] else "no"] for f in results["crowds"]["fanout"]]
    return ["## Group fan-out, every member online", "",
            "From just before the send to the first and the last recipient socket (medians over the runs, after a"
            " warm-up send); groups above 100 members fan out through SQS.", "",
            *table(["members", "recipients", "to first", "to last", "slowest to last", "`sent`", "all arrived"],
                   rows), ""]


def sync_section(results: dict) -> list[str]:
    sync = results["sync"]
    rows = [[case["label"], case.get("form", "v1"), number(case.get("chats", sync["chats"]), 0), str(case["messages"]),
             f"{ms(case['ms'])} ({ms(case['ms_min'])} to {ms(case['ms_max'])})" if case.get("runs", 2) > 1
             else ms(case["ms"]),
             number(case["cost"]["dynamodb_requests"]), number(case["cost"]["read_units"]),
             str(case.get("frames", "")), number(case.get("bytes", 0), 0), str(case.get("pages", 1)),
             number(case["cost"]["websocket_messages"] - case.get("pages", 1), 0)] for case in sync["cases"]]
    seeded = sync.get("seeded", {})
    lines = ["## Sync", "",
             f"The users' chats and the messages they missed were written through Parley's storage layer, with the"
             f" news marks a send leaves ({sync['chats']:,} chats in {number(sync['seeded_seconds'])} s"
             + (f"; {sync['heavy_chats']:,} chats in {number(seeded['heavy_seconds'])} s" if "heavy_seconds" in seeded
                else "") + "). v1: the client sends a cursor for every chat it knows. changes: the client sends the"
             " token of its last completed pass (a fresh device sends \"\" and pages through every chat). Every"
             " pass goes over a bare WebSocket: frames and bytes are what the client received, the `synced` frames"
             " included. Time: from the request to the last `synced` frame of the pass (median of the runs, min to"
             " max); DynamoDB requests and RCU: per pass (all its pages), counted in a window of its own.", "",
             *table(["case", "form", "chats", "messages", "time", "DynamoDB requests", "RCU", "frames received",
                     "bytes received", "pages", "WebSocket messages pushed"], rows), ""]
    v1 = sync.get("v1_heavy")
    if v1:
        verdict = (("within the limit" if v1["fits"] else "over the limit, so it cannot be sent")
                   + " (worked out, not run)")
        lines += [f"- **{v1['label']}**: its cursor map makes a frame of {v1['frame_bytes']:,} bytes"
                  f" ({v1['chats']:,} chats x {number(v1['bytes_per_chat'])} bytes) against the"
                  f" {v1['limit_bytes']:,} bytes a client frame may have: {verdict}. A v1 frame fits about"
                  f" {v1['chats_that_fit']:,} chats of ids as short as these; the v1 form is kept for up to"
                  f" {v1['v1_max_chats']:,}.", ""]
    if sync.get("targets"):
        lines += ["Issue 18's targets:", "",
                  *table(["case", "measure", "target", "measured", "met"],
                         [[target["case"], target["metric"].replace("_", " "), f"at most {number(target['limit'])}",
                           number(target["value"]), "yes" if target["met"] else "**no**"]
                          for target in sync["targets"]]), ""]
    return lines


def costs_section(results: dict) -> list[str]:
    rows = []
    for cost in all_costs(results):
        bill = cost["dollars_per_million"]
        rows.append([cost["label"], number(cost["dynamodb_requests"]), number(cost["read_units"]),
                     number(cost["write_units"]) + (f" + {number(cost['index_write_units'])}"
                                                    if cost["index_write_units"] else ""),
                     number(cost["websocket_messages"]), number(cost["lambda_invocations"]),
                     number(cost["sqs_requests"]), dollars(bill["total"]),
                     " / ".join(dollars(bill[service]) for service in ("api_gateway", "lambda", "dynamodb", "sqs"))])
    prices = ", ".join(f"{name.replace('_', ' ')} ${price * 1e6:g}/M" if price < 1e-5 else
                       f"{name.replace('_', ' ')} ${price:g}" for name, price in PRICES.items())
    sources = ", ".join(f"[{service}]({url})" for service, url in PRICE_SOURCES.items())
    details = [f"- **{cost['label']}**: " + ", ".join(f"{name} {number(count, 2)}"
                                                      for name, count in cost["requests"].items())
               for cost in all_costs(results)]
    return ["## What each operation asks of AWS, and what it costs", "",
            "Per operation, counted by devstack/accounting.py with sizing on (every written item read before and"
            " after: see its docstring for what is measured and what is computed). WCU: table + global secondary"
            " index. WebSocket messages: the frame in plus every @connections post (one per 32 KB). Lambda"
            " GB-seconds: the handler's time on this machine at the memory deploy/functions.py gives it.", "",
            *table(["operation", "DynamoDB requests", "RCU", "WCU", "WebSocket messages", "Lambda invocations",
                    "SQS requests", "$ per million", "API Gateway / Lambda / DynamoDB / SQS"], rows), "",
            f"Prices (us-east-1 on-demand, from /work/shared/AWS-LOCAL-NOTES.md; {sources}): {prices}.", "",
            "Requests per operation, by API:", "", *details, ""]


def partitions_section(results: dict) -> list[str]:
    rows = [[cost["label"], f"`{hottest['key']}`", number(hottest["read_units"], 2), number(hottest["write_units"], 2),
             f"{hottest['partition_seconds']:.4f}", number(1 / hottest["partition_seconds"], 0)]
            for cost in all_costs(results) if cost.get("hottest_partitions")
            for hottest in cost["hottest_partitions"][:1]]
    return ["## Hot partition keys", "",
            "Per operation, the DynamoDB partition key that took the most of it (base tables; devstack/accounting.py"
            " sees every request) and its load in partition-seconds: RCU / 3,000 + WCU / 1,000, the share of what"
            " one partition serves in a second. Its inverse is how many such operations a second one key could take"
            " before DynamoDB throttles it (for a group's send: how many messages a second one group sustains).", "",
            *table(["operation", "hottest key", "RCU", "WCU", "partition-seconds", "per second at the limit"], rows),
            ""]


def naive_section(results: dict) -> list[str]:
    lines = ["## Naive baseline beside Parley", "",
             "The naive path (bench/naive.py) is what public samples do per message: Scan the whole connections"
             " table, post to every connection in a sequential loop. Same stack, same tables, same @connections"
             " endpoint, same run: each round sends one naive broadcast, one Parley 1:1 message and one message to"
             " the largest group whose members are all online (medians over the rounds after a warm-up round).", ""]
    for run in results["crowds"]["naive"]:
        naive = run["naive_cost"]
        timings = run["timings"]
        rows = [["naive broadcast", timings["naive"], naive], ["Parley 1:1", timings["direct"], run["direct_cost"]],
                [f"Parley {run['group_size']}-member group", timings["group"], run["group_cost"]]]
        lines += [f"### {run['connected']:,} connected users", "",
                  *table(["path", "recipient sockets", "to last", "DynamoDB requests", "RCU", "WCU",
                          "@connections posts", "$ per million", "naive / this: time", "naive / this: $"],
                         [[name, f"{timing['recipients']:,}", ms(timing["to_last"]), number(cost["dynamodb_requests"]),
                           number(cost["read_units"]), number(cost["write_units"] + cost["index_write_units"]),
                           number(cost["requests"].get("apigatewaymanagementapi.PostToConnection", 0)),
                           dollars(cost["dollars_per_million"]["total"]),
                           ratio(run["timings"]["naive"]["to_last"], timing["to_last"]),
                           ratio(naive["dollars_per_million"]["total"], cost["dollars_per_million"]["total"])]
                          for name, timing, cost in rows]), ""]
    return lines


def coldstart_section(results: dict) -> list[str]:
    cold = results["coldstart"]
    return ["## Cold start", "",
            f"`import app` {ms(cold['app_ms'])} against `import boto3` {ms(cold['boto3_ms'])}: ratio"
            f" **{cold['ratio']:.2f}** (target {cold['target']}; medians of {cold['runs']} fresh interpreters each,"
            " alternating, timed as deploy/coldstart.py does).", ""]


def media_section(results: dict) -> list[str]:
    media = results["media"]
    return ["## Media processing", "", f"`{media['command']}` (short settings; see the script for more):", "",
            "```", *media["lines"], "```", ""]


def markdown(results: dict) -> str:
    machine, calibration = results["machine"], results.get("moto_request_ms", {})
    lines = ["# Parley benchmarks", "",
             f"`make bench` (`python -m bench`), started {results['started']}, took {number(results['seconds'], 0)} s"
             f" on {machine['cpus']} CPUs (load average {machine['load_average_before'][0]:.1f} before,"
             f" {machine['load_average_after'][0]:.1f} after; Python {machine['python']})."]
    if calibration:
        lines.append(f"moto answered a GetItem in {ms(calibration['before'])} (in the stack's process, as the app's"
                     f" requests reach it) before the stack scenarios and {ms(calibration.get('after', math.inf))}"
                     " after: the floor under every time below.")
    lines += ["The stack, moto and the bench share the machine's cores, so absolute times describe this machine at"
              " this moment; compare ratios measured side by side in one run.", "", "## Headlines", "",
              *headline(results), ""]
    sections = [("latency", latency_section), ("sustained", sustained_section), ("crowds", fanout_section),
                ("sync", sync_section), ("coldstart", coldstart_section), ("crowds", naive_section),
                ("media", media_section)]
    for key, section in sections:
        if key in results:
            lines += section(results)
    if all_costs(results):
        lines += costs_section(results) + partitions_section(results)
    return "\n".join(lines)
