-- stopay schema, version 21: ListCases finds cases by an account of their trail and by report number
-- (docs/rules.md, Search).
--
-- The account filter asks which cases have an order, of any kind and at any level, at one account:
-- freeze_orders had no index that starts with (bank_code, account_number) for every order (only the
-- partial ones for open orders and for releases), so each search read every order. With case_id last
-- the index answers the search's semi-join from the index alone. A report number is looked up across
-- stations, exactly.
CREATE INDEX freeze_orders_by_account ON freeze_orders (bank_code, account_number, case_id);
CREATE INDEX cases_by_report_no ON cases (report_no);
