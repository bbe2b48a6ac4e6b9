"""``modgate review``: the moderator's command line over the Redis priority queue.

``next`` claims the highest-priority item under a lease and prints it; ``show`` prints any
item; ``decide`` applies approve / remove / reduce / escalate (only by the lease holder);
``renew`` extends a lease you hold; ``release`` gives an item back; ``list`` shows the waiting
items with live priorities.
Redis comes from ``MODGATE_REDIS__URL`` (default redis://127.0.0.1:6379/0, where
``modgate up`` puts it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from modgate.errors import ModgateError

if TYPE_CHECKING:
    from slowpath.queue_redis import RedisModeratorQueue

review_app = typer.Typer(
    help="Work the moderator queue (claim, show, decide).", no_args_is_help=True
)

T = TypeVar("T")
Moderator = Annotated[str, typer.Option("--moderator", "-m", help="Your moderator id.")]
Senior = Annotated[bool, typer.Option(help="Use the senior (escalation) queue.")]


def _with_queue(work: Callable[[RedisModeratorQueue], Awaitable[T]]) -> T:
    from modgate.settings import load_slowpath_settings
    from slowpath.queue_redis import RedisModeratorQueue

    async def run() -> T:
        settings = load_slowpath_settings()
        queue = RedisModeratorQueue.from_url(
            settings.redis.url,
            settings.queue,
            key_prefix=settings.redis.key_prefix,
            timeout_s=settings.redis_timeout_s,
        )
        try:
            return await work(queue)
        finally:
            await queue.aclose()

    try:
        return asyncio.run(run())
    except ModgateError as exc:
        typer.echo(f"modgate review: {exc}", err=True)
        raise typer.Exit(1) from None


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _queue_name(senior: bool) -> Any:
    from slowpath.interface import QueueName

    return QueueName.SENIOR if senior else QueueName.MAIN


@review_app.command("next")
def next_item(moderator: Moderator, senior: Senior = False) -> None:
    """Claim the highest-priority item (leased to you) and print it."""
    from slowpath.review import describe

    async def work(queue: RedisModeratorQueue) -> None:
        item = await queue.claim(moderator, queue=_queue_name(senior))
        if item is None:
            typer.echo("queue is empty", err=True)
            raise typer.Exit(3)
        _print(describe(item))

    _with_queue(work)


@review_app.command("show")
def show(post_id: str) -> None:
    """Print one item (waiting, leased or escalated)."""
    from slowpath.review import describe

    async def work(queue: RedisModeratorQueue) -> None:
        _print(describe(await queue.get(post_id)))

    _with_queue(work)


@review_app.command("decide")
def decide_item(
    post_id: str,
    moderator: Moderator,
    action: Annotated[str, typer.Option(help="approve | remove | reduce | escalate")],
    note: Annotated[str, typer.Option(help="Optional note, kept with the label.")] = "",
    category: Annotated[
        list[str] | None, typer.Option(help="Violated category (repeatable).")
    ] = None,
) -> None:
    """Decide an item you hold: approve, remove, reduce (distribution) or escalate."""
    from slowpath.interface import ModeratorAction
    from slowpath.review import decide

    try:
        chosen = ModeratorAction(action)
    except ValueError:
        typer.echo(f"--action must be one of {[a.value for a in ModeratorAction]}", err=True)
        raise typer.Exit(2) from None

    async def work(queue: RedisModeratorQueue) -> None:
        done = await decide(queue, post_id, moderator, chosen, note=note, categories=category or [])
        counters = await queue.author_counters(done.author_id) if done.author_id else None
        _print(
            {
                "post_id": done.post_id,
                "action": done.action.value,
                "author_id": done.author_id,
                "author": dataclasses.asdict(counters) if counters else None,
            }
        )

    _with_queue(work)


@review_app.command("release")
def release(post_id: str, moderator: Moderator) -> None:
    """Give an item you hold back to the queue."""

    async def work(queue: RedisModeratorQueue) -> None:
        await queue.release(post_id, moderator)

    _with_queue(work)


@review_app.command("renew")
def renew(post_id: str, moderator: Moderator) -> None:
    """Extend the lease on an item you hold (also one past its expiry nobody reclaimed)."""

    async def work(queue: RedisModeratorQueue) -> None:
        expiry = await queue.renew(post_id, moderator)
        _print({"post_id": post_id, "claimed_by": moderator, "lease_expires_at": expiry})

    _with_queue(work)


@review_app.command("list")
def list_items(
    n: Annotated[int, typer.Option(help="How many.")] = 20, senior: Senior = False
) -> None:
    """The waiting items, highest priority first (not claimed)."""

    async def work(queue: RedisModeratorQueue) -> None:
        items = await queue.peek(n, queue=_queue_name(senior))
        depth = await queue.depth(_queue_name(senior))
        _print(
            {
                "waiting": depth,
                "items": [
                    {
                        "post_id": i.post_id,
                        "priority": round(i.priority, 4),
                        "severity": round(i.severity, 4),
                        "reach": round(i.reach, 4),
                        "top_category": i.top_category,
                    }
                    for i in items
                ],
            }
        )

    _with_queue(work)
