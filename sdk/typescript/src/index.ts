// RedditHarbor SDK: a typed client for the HTTP API. The types come from the server's OpenAPI
// document (src/schema.d.ts, generated); requests go through openapi-fetch.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths } from "./schema.js";

/** Schemas of the API by name, e.g. `Schema<"Opportunity">`. */
export type Schema<N extends keyof components["schemas"]> = components["schemas"][N];
/** A submission. */
export type Submission = Schema<"Submission">;
/** A scored opportunity joined with its post. */
export type Opportunity = Schema<"Opportunity">;
/** A run trace. */
export type Run = Schema<"Run">;
/** A theme: one problem many posts describe, with counts and growth. */
export type Theme = Schema<"Theme">;
/** A theme with its posts and weekly counts. */
export type ThemeDetail = Schema<"ThemeDetail">;
/** The API's error body. */
export type ErrorBody = Schema<"ErrorBody">;

/** Options of {@link createHarborClient}. */
export interface HarborClientOptions {
  /** Server URL, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Bearer token from `harbor token create`. */
  token: string;
  /** A fetch implementation (defaults to the global one; pass Next.js's to use its cache). */
  fetch?: typeof fetch;
}

/** The typed client: `client.GET("/api/v1/opportunities", { params: { query: { limit: 10 } } })`. */
export type HarborClient = Client<paths>;

/** Creates a typed client that sends the bearer token with every request. */
export function createHarborClient(options: HarborClientOptions): HarborClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/$/, ""),
    fetch: options.fetch,
  });
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${options.token}`);
      return request;
    },
  };
  client.use(auth);
  return client;
}

/** An API error with its stable code (`unauthorized`, `forbidden`, `invalid_parameter`, ...). */
export class HarborError extends Error {
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** Stable error code. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "HarborError";
  }
}

/** Returns `data` or throws a {@link HarborError}. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data !== undefined) return result.data;
  const body = result.error as Partial<ErrorBody> | undefined;
  throw new HarborError(
    result.response.status,
    body?.error?.code ?? "unknown",
    body?.error?.message ?? result.response.statusText,
  );
}

type SubmissionQuery = NonNullable<paths["/api/v1/submissions"]["get"]["parameters"]["query"]>;
type OpportunityQuery = NonNullable<paths["/api/v1/opportunities"]["get"]["parameters"]["query"]>;
type ThemeQuery = NonNullable<paths["/api/v1/themes"]["get"]["parameters"]["query"]>;

/** Every submission matching the filters, page by page (follows `next_cursor`). */
export async function* allSubmissions(
  client: HarborClient,
  query: Omit<SubmissionQuery, "cursor"> = {},
): AsyncGenerator<Submission> {
  let cursor: string | undefined;
  do {
    const page = unwrap(await client.GET("/api/v1/submissions", { params: { query: { ...query, cursor } } }));
    yield* page.items;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

/** Every opportunity matching the filters, best first, page by page. */
export async function* allOpportunities(
  client: HarborClient,
  query: Omit<OpportunityQuery, "cursor"> = {},
): AsyncGenerator<Opportunity> {
  let cursor: string | undefined;
  do {
    const page = unwrap(await client.GET("/api/v1/opportunities", { params: { query: { ...query, cursor } } }));
    yield* page.items;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

/** Every theme matching the filters, fastest-growing first, page by page. */
export async function* allThemes(
  client: HarborClient,
  query: Omit<ThemeQuery, "cursor"> = {},
): AsyncGenerator<Theme> {
  let cursor: string | undefined;
  do {
    const page = unwrap(await client.GET("/api/v1/themes", { params: { query: { ...query, cursor } } }));
    yield* page.items;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

/** Polls a run until it is no longer `running`. */
export async function waitForRun(client: HarborClient, runId: string, intervalMs = 200, timeoutMs = 120_000): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = unwrap(await client.GET("/api/v1/runs/{id}", { params: { path: { id: runId } } }));
    if (run.status !== "running") return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
