"""At the till: validate a code against a 50 EUR basket, then redeem it once.

Run with ENGAGE_URL (default http://127.0.0.1:8000) and ENGAGE_KEY (a POS or admin key) set:
    python examples/validate_and_redeem.py WELC-1234-5678 sale-42
"""

import os
import sys

from engage_client import Client, MoneyInput, OrderInput

code, sale = sys.argv[1], sys.argv[2]
client = Client(
    url=os.environ.get("ENGAGE_URL", "http://127.0.0.1:8000") + "/graphql",
    headers={"Authorization": f"Bearer {os.environ['ENGAGE_KEY']}"},
)
order = OrderInput(id=sale, amount=MoneyInput(amount=5000, currency="EUR"))

check = client.validate_code(code=code, order=order).validate_code
if not check.valid or check.discount is None or check.amount_to_pay is None:
    sys.exit(f"{code} cannot be redeemed: {', '.join(check.reasons)}")
print(f"{code}: {check.discount.amount} off, {check.amount_to_pay.amount} to pay")

# The sale's id as idempotency key: if the answer is lost, running this again for the same
# sale returns the same redemption instead of redeeming twice.
redeemed = client.redeem_code(code=code, order=order, idempotency_key=sale).redeem_code
if redeemed.redemption is None:
    sys.exit("refused: " + ", ".join(error.code for error in redeemed.errors))
print(f"redeemed: {redeemed.redemption.id} {redeemed.redemption.status.value}")
