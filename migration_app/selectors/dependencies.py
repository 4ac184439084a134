"""The dependency diagram of one service: what it needs and who needs it, as trees."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import (
    Dependency,
    PlatformCapability,
    Service,
)


@dataclass
class DependencyNode:
    """One box in the dependency diagram: a service or a capability, and what hangs below it."""

    service: Service | None
    capability: PlatformCapability | None
    strength: str
    children: list[DependencyNode]
    repeated: bool = False  # already drawn elsewhere in this tree: not expanded again


def dependency_trees(
    *, service: Service, max_depth: int = 6, max_nodes: int = 200
) -> tuple[list[DependencyNode], list[DependencyNode], bool]:
    """Upstream (what it needs) and downstream (who needs it) as trees; True when cut at the limits.

    Queries: the edge list (one), the services named (one), the capabilities named (one). The edge list
    is read whole as id tuples, so the number of queries does not grow with the depth of the graph.
    """
    edges = list(
        Dependency.objects.order_by().values_list(
            "service_id", "depends_on_service_id", "depends_on_capability_id", "strength"
        )
    )
    needs: dict[int, list[tuple[int | None, int | None, str]]] = {}
    needed_by: dict[int, list[tuple[int, str]]] = {}
    for source, on_service, on_capability, strength in edges:
        needs.setdefault(source, []).append((on_service, on_capability, strength))
        if on_service is not None:
            needed_by.setdefault(on_service, []).append((source, strength))

    truncated = False
    count = 0
    service_ids: set[int] = set()
    capability_ids: set[int] = set()

    def grow(children_of, root_id: int) -> list[dict]:
        nonlocal truncated, count
        seen = {root_id}

        def walk(node_id: int, depth: int) -> list[dict]:
            nonlocal truncated, count
            out = []
            for child in children_of(node_id):
                if count >= max_nodes:
                    truncated = True
                    break
                count += 1
                kind, pk, strength = child
                if kind == "capability":
                    capability_ids.add(pk)
                    out.append({"kind": kind, "pk": pk, "strength": strength, "children": [], "repeated": False})
                    continue
                service_ids.add(pk)
                repeated = pk in seen
                seen.add(pk)
                children: list[dict] = []
                if not repeated:
                    if depth >= max_depth:
                        truncated = truncated or bool(children_of(pk))
                    else:
                        children = walk(pk, depth + 1)
                out.append({"kind": kind, "pk": pk, "strength": strength, "children": children, "repeated": repeated})
            return out

        return walk(root_id, 1)

    def upstream(pk: int) -> list[tuple[str, int, str]]:
        children: list[tuple[str, int, str]] = []
        for on_service, on_capability, strength in needs.get(pk, []):
            if on_service is not None:
                children.append(("service", on_service, strength))
            elif on_capability is not None:
                children.append(("capability", on_capability, strength))
        return children

    def downstream(pk: int) -> list[tuple[str, int, str]]:
        return [("service", s, strength) for s, strength in needed_by.get(pk, [])]

    up_raw = grow(upstream, service.pk)
    down_raw = grow(downstream, service.pk)
    services = Service.objects.select_related("owner").in_bulk(service_ids) if service_ids else {}
    capabilities = PlatformCapability.objects.in_bulk(capability_ids) if capability_ids else {}

    def build(raw: list[dict]) -> list[DependencyNode]:
        return [
            DependencyNode(
                service=services.get(r["pk"]) if r["kind"] == "service" else None,
                capability=capabilities.get(r["pk"]) if r["kind"] == "capability" else None,
                strength=r["strength"],
                children=build(r["children"]),
                repeated=r["repeated"],
            )
            for r in raw
        ]

    return build(up_raw), build(down_raw), truncated
