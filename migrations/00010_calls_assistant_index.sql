-- +goose Up
-- GET /calls?assistant_id=… had no index of its own: on calls_tenant_created
-- a page reads the tenant's calls newest first until it has found 50 of the
-- assistant's, quick for an assistant that makes many calls, but for one
-- that made few (a new one, a retired one) it reads every call of the
-- tenant, and the planner then scans the whole table. Over 1,000,000 calls
-- (docs/benchmarks.md, 2026-12-01) an assistant with 0.1% of a tenant's
-- 400,000 calls took 786 ms at p50 (a parallel seq scan, 62,605 pages);
-- with this index, a page is one index range in the list's order. Like
-- 00006, its key ends in the list's order and its cursor.
--
-- IF NOT EXISTS lets an operator with a large calls table build it
-- beforehand with CREATE INDEX CONCURRENTLY under the same name: built
-- here, in the migration's transaction, it blocks writes to calls while it
-- builds.
CREATE INDEX IF NOT EXISTS calls_tenant_assistant_created ON calls (tenant_id, assistant_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX calls_tenant_assistant_created;
