-- The portfolio messaging tier: unique business-initiated recipients per rolling 24 h.

-- name: lock_portfolios
-- One reservation at a time per portfolio, across replicas (ends with the transaction).
SELECT pg_advisory_xact_lock(hashtextextended('disparo.portfolio:' || p, 0))
FROM unnest($1::text[]) AS p ORDER BY p;

-- name: portfolio_usage
-- Per portfolio: its tier's limit (NULL: unlimited; $4 when Meta has not told us the tier) and distinct recipients
-- in the window; plus which of the asked phones are among them (they cost nothing more).
SELECT p.portfolio,
       coalesce(pf.tier, $4::text) AS tier,
       t.unique_recipients AS tier_limit,
       (SELECT count(*) FROM portfolio_recipients r
        WHERE r.portfolio = p.portfolio AND r.last_initiated_at > $2::timestamptz) AS used,
       ARRAY(SELECT r.phone FROM portfolio_recipients r
             WHERE r.portfolio = p.portfolio AND r.last_initiated_at > $2::timestamptz
               AND r.phone = ANY($3::text[])) AS known
FROM unnest($1::text[]) AS p(portfolio)
LEFT JOIN portfolios pf ON pf.portfolio = p.portfolio
LEFT JOIN messaging_tiers t ON t.tier = coalesce(pf.tier, $4::text);

-- name: record_initiated
-- The recipients granted: counted in their portfolio's window from now.
INSERT INTO portfolio_recipients (portfolio, phone, sender_id, last_initiated_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
ORDER BY 1, 2
ON CONFLICT (portfolio, phone) DO UPDATE
SET sender_id = EXCLUDED.sender_id, last_initiated_at = EXCLUDED.last_initiated_at;

-- name: sender_health
-- Each Cloud sender's portfolio tier and the window's use, total and by this number.
SELECT s.sender_id, coalesce(pf.tier, $2::text) AS tier, t.unique_recipients AS tier_limit,
       (SELECT count(*) FROM portfolio_recipients r
        WHERE r.portfolio = coalesce(s.portfolio, s.waba_id)
          AND r.last_initiated_at > $1::timestamptz) AS portfolio_recipients_24h,
       (SELECT count(*) FROM portfolio_recipients r
        WHERE r.portfolio = coalesce(s.portfolio, s.waba_id) AND r.sender_id = s.sender_id
          AND r.last_initiated_at > $1::timestamptz) AS recipients_24h
FROM senders s
LEFT JOIN portfolios pf ON pf.portfolio = coalesce(s.portfolio, s.waba_id)
LEFT JOIN messaging_tiers t ON t.tier = coalesce(pf.tier, $2::text)
WHERE s.provider = 'cloud' AND coalesce(s.portfolio, s.waba_id) IS NOT NULL;
