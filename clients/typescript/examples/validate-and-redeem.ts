// At the till: validate a code against a 50 EUR basket, then redeem it once.
// Run with ENGAGE_URL (default http://127.0.0.1:8000) and ENGAGE_KEY (a POS or admin key) set:
//   node dist/examples/validate-and-redeem.js WELC-1234-5678 sale-42
import { engageClient } from "../src/index.js";

const [code, sale] = process.argv.slice(2);
const engage = engageClient(
  process.env.ENGAGE_URL ?? "http://127.0.0.1:8000",
  process.env.ENGAGE_KEY ?? "",
);
const order = { id: sale, amount: { amount: 5000, currency: "EUR" } };

const check = await engage.POST("/v1/codes/validate", { body: { code, order } });
if (check.error) {
  throw new Error(`${check.error.code}: ${check.error.detail}`);
}
if (!check.data.valid || !check.data.discount || !check.data.amountToPay) {
  console.error(`${code} cannot be redeemed: ${check.data.reasons.join(", ")}`);
  process.exit(1);
}
console.log(`${code}: ${check.data.discount.amount} off, ${check.data.amountToPay.amount} to pay`);

// The sale's id as Idempotency-Key: if the answer is lost, sending this again for the same
// sale returns the same redemption instead of redeeming twice.
const redeemed = await engage.POST("/v1/redemptions", {
  params: { header: { "Idempotency-Key": sale } },
  body: { code, order },
});
if (redeemed.error) {
  console.error(`refused: ${redeemed.error.errors.map((problem) => problem.code).join(", ")}`);
  process.exit(1);
}
console.log(`redeemed: ${redeemed.data.id} ${redeemed.data.status}`);
