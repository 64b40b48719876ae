-- 0031: the mode a database is served in (issue 2: `idbind serve --demo` is the demo, with generated
-- keys, demo data and demo-only endpoints; `idbind serve` is production; DESIGN.md invariant 5).
-- Recorded by the first `serve` (src/demo/deployment-mode.ts), so that a production database is
-- never served with --demo: that would add the demo platforms, whose API keys the demo prints, and
-- the demo-only endpoints that hand out the admin token. One row.
CREATE TABLE deployment_mode (
  only_row    boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
  mode        text        NOT NULL CHECK (mode IN ('demo', 'production')),
  recorded_at timestamptz NOT NULL DEFAULT now()
);
