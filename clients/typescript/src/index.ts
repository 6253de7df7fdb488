/**
 * A typed client of Engage's REST checkout API (/v1): every path, parameter, body and answer
 * is typed from the OpenAPI document, through openapi-fetch.
 */
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

type Schemas = components["schemas"];
export type Money = Schemas["Money"];
export type Validation = Schemas["Validation"];
export type Redemption = Schemas["Redemption"];
export type RecordedOrder = Schemas["RecordedOrder"];
export type Customer = Schemas["Customer"];
export type CustomerCoupons = Schemas["CustomerCoupons"];
export type LoyaltyBalance = Schemas["LoyaltyBalance"];
/** Every refusal: RFC 9457 problem details with Engage's error `code` and `field`. */
export type Problem = Schemas["Problem"];

/** A client for the Engage at `baseUrl` (http://127.0.0.1:8000) calling with `token`: an
 * admin or POS API key, or a customer token. */
export function engageClient(baseUrl: string, token: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}
