-- 012: the values of the policy's custom fields, for lists.
--
-- `custom` holds, as a JSON object, the value of every custom field (`x_…`)
-- the policy in force defines and the record holds; lists filter and sort
-- on it with json_extract. Written by the index with the rest of the row;
-- rows of records indexed before a policy defined custom fields are
-- refreshed when such a policy arrives (Store::set_sign_in).
ALTER TABLE records ADD COLUMN custom TEXT;
