-- A campaign's own send window, from campaign.started: hours start_hour <= h < end_hour on ISO
-- weekdays (1 = Monday) in window_zone. Its messages wait outside it, like quiet hours, which
-- still apply on top (both must be open).
ALTER TABLE campaigns
    ADD COLUMN window_start_hour smallint CHECK (window_start_hour BETWEEN 0 AND 23),
    ADD COLUMN window_end_hour   smallint CHECK (window_end_hour BETWEEN 1 AND 24),
    ADD COLUMN window_weekdays   smallint[],
    ADD COLUMN window_zone       text;
