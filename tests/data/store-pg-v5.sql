-- A vodgate PostgreSQL database at schema version 5 (vodgate dcb75e8: 'serve', three sessions:
-- the first with three signatures, the second two, the third one, made interleaved, so audit ids
-- alternate between sessions), as 'pg_dump --inserts --no-owner --no-privileges' printed it (its
-- psql-only \restrict lines and comments left out). tests/unit/test_store.c upgrades it.

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

CREATE TABLE public.api_token (
    id text NOT NULL,
    hash text NOT NULL,
    user_id text NOT NULL,
    policy text NOT NULL,
    label text DEFAULT ''::text NOT NULL,
    created_at bigint NOT NULL,
    revoked_at bigint
);

CREATE TABLE public.audit (
    id bigint NOT NULL,
    upload_id text NOT NULL,
    user_id text NOT NULL,
    request_id text NOT NULL,
    expire_time bigint NOT NULL,
    random bigint NOT NULL,
    created_at bigint NOT NULL
);

CREATE SEQUENCE public.audit_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.audit_id_seq OWNED BY public.audit.id;

CREATE TABLE public.event (
    event_key text NOT NULL,
    source text NOT NULL,
    type text NOT NULL,
    file_id text,
    task_id text,
    status text,
    body json NOT NULL,
    received_at bigint NOT NULL,
    CONSTRAINT event_source_check CHECK ((source = ANY (ARRAY['push'::text, 'pull'::text])))
);

CREATE TABLE public.lease (
    name text NOT NULL,
    owner text NOT NULL,
    expires_at bigint NOT NULL
);

CREATE TABLE public.ledger (
    file_id text NOT NULL,
    upload_id text,
    user_id text,
    state text NOT NULL,
    detail json DEFAULT '{}'::json NOT NULL,
    updated_at bigint NOT NULL
);

CREATE TABLE public.outbox (
    id bigint NOT NULL,
    event_key text NOT NULL,
    payload json NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    due_at bigint NOT NULL,
    delivered_at bigint,
    dead boolean DEFAULT false NOT NULL
);

CREATE SEQUENCE public.outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.outbox_id_seq OWNED BY public.outbox.id;

CREATE TABLE public.quarantine (
    id bigint NOT NULL,
    reason text NOT NULL,
    body bytea NOT NULL,
    received_at bigint NOT NULL
);

CREATE SEQUENCE public.quarantine_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.quarantine_id_seq OWNED BY public.quarantine.id;

CREATE TABLE public.quota (
    user_id text NOT NULL,
    day bigint NOT NULL,
    used bigint NOT NULL
);

CREATE TABLE public.schema_version (
    version bigint NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.upload_session (
    upload_id text NOT NULL,
    user_id text NOT NULL,
    policy text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    signatures_issued bigint DEFAULT 0 NOT NULL,
    params json DEFAULT '{}'::json NOT NULL,
    CONSTRAINT upload_session_signatures_issued_check CHECK ((signatures_issued >= 0))
);

ALTER TABLE ONLY public.audit ALTER COLUMN id SET DEFAULT nextval('public.audit_id_seq'::regclass);

ALTER TABLE ONLY public.outbox ALTER COLUMN id SET DEFAULT nextval('public.outbox_id_seq'::regclass);

ALTER TABLE ONLY public.quarantine ALTER COLUMN id SET DEFAULT nextval('public.quarantine_id_seq'::regclass);

INSERT INTO public.audit VALUES (1, '01a2259c659ebb340dcbc5975e40552a', 'alice', '159174b27e3a39b36a0562e0e7cf3632', 1796013736, 3210624729, 1795927336);
INSERT INTO public.audit VALUES (2, '01a2259c6665605e0cd671c2c390e606', 'alice', '111deac43656af84b5054a74b0d12f51', 1796013736, 867100564, 1795927336);
INSERT INTO public.audit VALUES (3, '01a2259c659ebb340dcbc5975e40552a', 'alice', '8f1ab597799364764529fc5a660e1dea', 1796013736, 566732405, 1795927336);
INSERT INTO public.audit VALUES (4, '01a2259c6751150276b33877eb845cbb', 'alice', '6014a92a21ae51fe191a1b359a8d5c18', 1796013736, 3117798719, 1795927336);
INSERT INTO public.audit VALUES (5, '01a2259c6665605e0cd671c2c390e606', 'alice', 'cf715a76166f37ae77432f239d31a381', 1796013736, 102518765, 1795927336);
INSERT INTO public.audit VALUES (6, '01a2259c659ebb340dcbc5975e40552a', 'alice', '6bade595eb2310d6a70777575c574a89', 1796013736, 2536398627, 1795927336);

INSERT INTO public.quota VALUES ('alice', 20786, 3);

INSERT INTO public.schema_version VALUES (1, '2026-11-29 04:42:14.853096+00');
INSERT INTO public.schema_version VALUES (2, '2026-11-29 04:42:14.853096+00');
INSERT INTO public.schema_version VALUES (3, '2026-11-29 04:42:14.853096+00');
INSERT INTO public.schema_version VALUES (4, '2026-11-29 04:42:14.853096+00');
INSERT INTO public.schema_version VALUES (5, '2026-11-29 04:42:14.853096+00');

INSERT INTO public.upload_session VALUES ('01a2259c6751150276b33877eb845cbb', 'alice', 'default', 1795927336, 1796013736, 1, '{"taskNotifyMode":"Finish","taskPriority":0,"token":"vg1.k1.01a2259c6751150276b33877eb845cbb.s9VLFsSEgxt45bK5iA9PZw"}');
INSERT INTO public.upload_session VALUES ('01a2259c6665605e0cd671c2c390e606', 'alice', 'default', 1795927336, 1796013736, 2, '{"taskNotifyMode":"Finish","taskPriority":0,"token":"vg1.k1.01a2259c6665605e0cd671c2c390e606.wegy-Kj48oftUfxw7HT_8A"}');
INSERT INTO public.upload_session VALUES ('01a2259c659ebb340dcbc5975e40552a', 'alice', 'default', 1795927336, 1796013736, 3, '{"taskNotifyMode":"Finish","taskPriority":0,"token":"vg1.k1.01a2259c659ebb340dcbc5975e40552a.S7SQdH4t0vGcD_n1fnnU-g"}');

SELECT pg_catalog.setval('public.audit_id_seq', 6, true);

SELECT pg_catalog.setval('public.outbox_id_seq', 1, false);

SELECT pg_catalog.setval('public.quarantine_id_seq', 1, false);

ALTER TABLE ONLY public.api_token
    ADD CONSTRAINT api_token_hash_key UNIQUE (hash);

ALTER TABLE ONLY public.api_token
    ADD CONSTRAINT api_token_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.audit
    ADD CONSTRAINT audit_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.event
    ADD CONSTRAINT event_pkey PRIMARY KEY (event_key);

ALTER TABLE ONLY public.lease
    ADD CONSTRAINT lease_pkey PRIMARY KEY (name);

ALTER TABLE ONLY public.ledger
    ADD CONSTRAINT ledger_pkey PRIMARY KEY (file_id);

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.quarantine
    ADD CONSTRAINT quarantine_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.quota
    ADD CONSTRAINT quota_pkey PRIMARY KEY (user_id, day);

ALTER TABLE ONLY public.schema_version
    ADD CONSTRAINT schema_version_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.upload_session
    ADD CONSTRAINT upload_session_pkey PRIMARY KEY (upload_id);

CREATE INDEX audit_upload ON public.audit USING btree (upload_id);

CREATE INDEX event_file ON public.event USING btree (file_id);

CREATE INDEX event_received ON public.event USING btree (received_at);

CREATE INDEX ledger_upload ON public.ledger USING btree (upload_id);

CREATE INDEX ledger_user ON public.ledger USING btree (user_id, state);

CREATE INDEX outbox_due ON public.outbox USING btree (due_at) WHERE ((delivered_at IS NULL) AND (NOT dead));

CREATE INDEX upload_session_user ON public.upload_session USING btree (user_id, created_at);

ALTER TABLE ONLY public.audit
    ADD CONSTRAINT audit_upload_id_fkey FOREIGN KEY (upload_id) REFERENCES public.upload_session(upload_id);

