"""Listing sandboxes through the official Python SDK, unmodified: pages of `limit` followed
to the end by their tokens, newest first unless asked otherwise, filtered by metadata,
state, template and start time; another key sees none of them, even with a token of the
owner's pages. What each step gave is printed as one JSON object."""

import asyncio
import json
import os

from e2b import AsyncSandbox, Sandbox, SandboxQuery, SandboxState

OTHER = os.environ["OTHER_API_KEY"]
ODD = "a&b=c d/é%"
out = {}


def attempt(call):
    """The call's value, or its exception as `Type: message`."""
    try:
        return call()
    except Exception as e:  # noqa: BLE001 - the type and message are what is checked
        return f"{type(e).__name__}: {e}"


def pages(**kwargs):
    """The ids of each page, following the paginator to its end."""
    paginator = Sandbox.list(**kwargs)
    seen = []
    while paginator.has_next:
        seen.append([s.sandbox_id for s in paginator.next_items()])
    return seen


made = [Sandbox.create(metadata={"suite": "list", "n": str(i), "odd": ODD}) for i in range(3)]
stranger = Sandbox.create(metadata={"suite": "other"})
out["ids"] = [s.sandbox_id for s in made]
out["stranger"] = stranger.sandbox_id
mine = SandboxQuery(metadata={"suite": "list"})
out["pages"] = pages(query=mine, limit=1)
out["two_a_page"] = pages(query=mine, limit=2)
out["oldest_first"] = pages(query=mine, order="asc")
out["odd"] = pages(query=SandboxQuery(metadata={"odd": ODD}))
out["paused"] = pages(query=SandboxQuery(state=[SandboxState.PAUSED]))
out["running"] = pages(query=SandboxQuery(state=[SandboxState.RUNNING], metadata={"suite": "list"}))
out["template_base"] = pages(query=SandboxQuery(template="base"))
out["template_other"] = pages(query=SandboxQuery(template="code-interpreter-v1"))
started = made[1].get_info().started_at
out["started_after"] = pages(query=SandboxQuery(metadata={"suite": "list"}, started_after=started))
out["everything"] = pages(limit=100)



async def async_pages():
    paginator = AsyncSandbox.list(query=mine, limit=2)
    seen = []
    while paginator.has_next:
        seen.append([s.sandbox_id for s in await paginator.next_items()])
    return seen


out["async_pages"] = asyncio.run(async_pages())

first = Sandbox.list(query=mine, limit=1)
first.next_items()
out["other"] = pages(api_key=OTHER)
out["other_with_token"] = pages(api_key=OTHER, next_token=first.next_token)
out["bad_token"] = attempt(lambda: Sandbox.list(next_token="not-a-token!").next_items())
out["bad_limit"] = attempt(lambda: Sandbox.list(limit=101).next_items())

for sandbox in made + [stranger]:
    sandbox.kill()
out["after_kill"] = pages(query=mine)
print(json.dumps(out))
