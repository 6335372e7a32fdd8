"""An MCP client made of the official Python SDK (package `mcp`), driven by the MCP tests.

Usage: client.py '<plan as JSON>'. The plan names a connection and a list of steps:

    {"connect": {"transport": "http", "url": ..., "headers": {...}}
              | {"transport": "stdio", "command": ..., "args": [...], "env": {...}},
     "steps": [{"op": "list_tools"},
               {"op": "call", "tool": ..., "args": {...}, "save": {"name": "/json/pointer"}}]}

A string argument "$name" is replaced by the value a previous step saved under that name, read
from its structured content. Prints one JSON report per step, as a list: the tools listed, or a
call's result (is_error, content, structured content) or MCP error (code, message, data); a
connection that fails prints {"connect_error": ...}.
"""

import asyncio
import json
import sys

import httpx2
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


def pointer(value, path):
    for part in [p for p in path.split("/") if p]:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def substitute(args, saved):
    return {k: saved[v[1:]] if isinstance(v, str) and v.startswith("$") and v[1:] in saved else v
            for k, v in args.items()}


async def run_steps(session, steps):
    await session.initialize()
    reports, saved = [], {}
    for step in steps:
        if step["op"] == "list_tools":
            listed = await session.list_tools()
            reports.append({"tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True)
                                      for t in listed.tools]})
            continue
        try:
            result = await session.call_tool(step["tool"], substitute(step.get("args", {}), saved))
        except MCPError as error:
            reports.append({"error": {"code": error.code, "message": error.message, "data": error.data}})
            continue
        report = {
            "is_error": bool(result.is_error),
            "content": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in result.content],
            "structured": result.structured_content,
            # Python keeps every digit and the key order: the structured content as sent.
            "structured_text": json.dumps(result.structured_content, separators=(",", ":"), ensure_ascii=False),
        }
        for name, path in step.get("save", {}).items():
            saved[name] = pointer(result.structured_content, path)
        reports.append(report)
    return reports


async def main(plan):
    connect = plan["connect"]
    if connect["transport"] == "http":
        async with httpx2.AsyncClient(headers=connect.get("headers", {}),
                                      timeout=httpx2.Timeout(30, read=300)) as http:
            async with streamable_http_client(connect["url"], http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    return await run_steps(session, plan["steps"])
    params = StdioServerParameters(command=connect["command"], args=connect.get("args", []),
                                   env=connect.get("env"))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            return await run_steps(session, plan["steps"])


def describe(error):
    """An exception, with those an exception group holds (anyio's task groups wrap them)."""
    inner = getattr(error, "exceptions", None)
    if inner:
        return "; ".join(describe(e) for e in inner)
    return f"{type(error).__name__}: {error}"


if __name__ == "__main__":
    try:
        print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
    except Exception as error:  # noqa: BLE001 - the test reads what failed
        print(json.dumps({"connect_error": describe(error)}))
