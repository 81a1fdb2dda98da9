import { readFile } from 'node:fs/promises';
import type pg from 'pg';

type Run = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;

const CHINOOK = new URL('../fixtures/chinook/Chinook_PostgreSql.sql', import.meta.url);

/** Loads the public Chinook sample database, unedited but for its psql database switching. */
export async function loadChinook(run: Run): Promise<void> {
  const text = await readFile(CHINOOK, 'utf8');
  const body = text.replace(/^DROP DATABASE IF EXISTS chinook;$/m, '').replace(/^CREATE DATABASE chinook;$/m, '').replace(/^\\c chinook;$/m, '');
  await run(body);
}

/** The Chinook tables and their row counts, as shipped. */
export const CHINOOK_TABLES = ['album', 'artist', 'customer', 'employee', 'genre', 'invoice', 'invoice_line', 'media_type', 'playlist', 'playlist_track', 'track'] as const;

/**
 * A schema shaped like the DVD rental sample (pagila / dvdrental): serial keys, a
 * `last_update timestamp` that a BEFORE UPDATE trigger sets to CURRENT_TIMESTAMP (function
 * `last_updated()`, as in the sample), an enum, an array, a char(20), a link table with a
 * composite key, and `payment` partitioned by date with the key (payment_date, payment_id).
 */
export async function createDvdRental(run: Run): Promise<void> {
  await run(`
    CREATE TYPE mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17');
    CREATE FUNCTION last_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.last_update = CURRENT_TIMESTAMP;
        RETURN NEW;
    END $$;
    CREATE TABLE language (language_id serial PRIMARY KEY, name character(20) NOT NULL, last_update timestamp without time zone DEFAULT now() NOT NULL);
    CREATE TABLE actor (actor_id serial PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, last_update timestamp without time zone DEFAULT now() NOT NULL);
    CREATE INDEX idx_actor_last_name ON actor (last_name);
    CREATE TABLE film (
      film_id serial PRIMARY KEY, title text NOT NULL, description text, release_year integer,
      language_id integer NOT NULL REFERENCES language, rental_rate numeric(4,2) DEFAULT 4.99 NOT NULL,
      rating mpaa_rating DEFAULT 'G', special_features text[], last_update timestamp without time zone DEFAULT now() NOT NULL);
    CREATE TABLE film_actor (actor_id integer NOT NULL REFERENCES actor, film_id integer NOT NULL REFERENCES film,
      last_update timestamp without time zone DEFAULT now() NOT NULL, PRIMARY KEY (actor_id, film_id));
    CREATE TABLE payment (payment_id serial NOT NULL, customer_id integer NOT NULL, amount numeric(5,2) NOT NULL,
      payment_date timestamp with time zone NOT NULL, PRIMARY KEY (payment_date, payment_id)) PARTITION BY RANGE (payment_date);
    CREATE TABLE payment_p2022_01 PARTITION OF payment FOR VALUES FROM ('2022-01-01 00:00:00+00') TO ('2022-02-01 00:00:00+00');
    CREATE TABLE payment_p2022_02 PARTITION OF payment FOR VALUES FROM ('2022-02-01 00:00:00+00') TO ('2022-03-01 00:00:00+00');
    CREATE TRIGGER last_updated BEFORE UPDATE ON language FOR EACH ROW EXECUTE FUNCTION last_updated();
    CREATE TRIGGER last_updated BEFORE UPDATE ON actor FOR EACH ROW EXECUTE FUNCTION last_updated();
    CREATE TRIGGER last_updated BEFORE UPDATE ON film FOR EACH ROW EXECUTE FUNCTION last_updated();
    CREATE TRIGGER last_updated BEFORE UPDATE ON film_actor FOR EACH ROW EXECUTE FUNCTION last_updated();
    INSERT INTO language (name) VALUES ('English'), ('Italian'), ('Japanese');
    INSERT INTO actor (first_name, last_name) SELECT 'First' || g, 'Last' || (g % 37) FROM generate_series(1, 200) g;
    INSERT INTO film (title, description, release_year, language_id, rental_rate, rating, special_features)
      SELECT 'Film ' || g, 'A ' || md5(g::text), 2000 + g % 20, 1 + g % 3, (0.99 + (g % 5))::numeric(4,2),
             (ARRAY['G','PG','PG-13','R','NC-17'])[1 + g % 5]::mpaa_rating, ARRAY['Trailers', 'Deleted Scenes']
      FROM generate_series(1, 1000) g;
    INSERT INTO film_actor (actor_id, film_id) SELECT 1 + (g * 7) % 200, g FROM generate_series(1, 1000) g;
    INSERT INTO film_actor (actor_id, film_id) SELECT 1 + (g * 13) % 200, g FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING;
    INSERT INTO payment (customer_id, amount, payment_date)
      SELECT 1 + g % 599, (g % 10) + 0.99, '2022-01-01 00:00:00+00'::timestamptz + g * interval '50 minutes' FROM generate_series(1, 1500) g;
  `);
}
