"""Referrals (裂变): who brought whom, and the rewards ledger of the direct referrer."""
