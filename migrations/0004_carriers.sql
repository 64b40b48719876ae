-- 0004: carriers' uploads over the API (issue 3 "Carriers use the API too"; src/carriers/): what
-- a job needs to be resumed after a restart, and one active job per carrier.

ALTER TABLE carrier_jobs
  ADD COLUMN format        text CHECK (format IN ('csv', 'ndjson')),
  ADD COLUMN upload_name   text,        -- the body's file under <data dir>/uploads/, deleted when the job ends
  ADD COLUMN source_sha256 text,        -- hashed as it arrived: the import resumes its run by it
  ADD COLUMN uploaded_at   timestamptz, -- NULL while the body is still arriving
  ADD COLUMN started_at    timestamptz;

-- One queued or running job per carrier provider (a second upload is refused before its body is
-- read); the registry's import lock still keeps a CLI import and a job of one carrier apart.
CREATE UNIQUE INDEX carrier_jobs_one_active ON carrier_jobs (provider_id) WHERE status IN ('queued', 'running');
