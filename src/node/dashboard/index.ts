/**
 * The node's web dashboard, served on its local HTTP server (http.ts): `/` (this node, its alerts, jobs,
 * verdicts, record, mesh and the top of the leaderboard), `/leaderboard`, and their assets
 * `/dashboard.js`, `/dashboard.css`, `/favicon.svg`. Nothing is loaded from anywhere else. Pages are
 * rendered on the server (they work without JavaScript, reloading every 10 s); the script then polls
 * `/api/status` and `/api/stats` every 2 s (`/api/traffic` every 30 s) and re-renders with the same view
 * functions.
 *
 * @example
 * ```ts
 * const html = renderDashboard(node.status(), node.stats(), Date.now())
 * ```
 */
import { dashboardParts, leaderboardParts, type DashStatus, type MeshStats } from './view.ts'
import { renderPage } from './html.ts'
import { withTraffic, type TrafficReport } from './traffic-view.ts'

export { DASHBOARD_JS } from './client.ts'
export { DASHBOARD_CSS, FAVICON_SVG } from './assets.ts'
export { escapeHtml, toHtml } from './html.ts'
export type { DashStatus, MeshStats } from './view.ts'
export type { TrafficReport } from './traffic-view.ts'

export function renderDashboard (status: DashStatus, stats: MeshStats | null, now: number, traffic: TrafficReport | null = null): string {
  return renderPage('dashboard', withTraffic(dashboardParts(status, stats, now), traffic), now)
}

export function renderLeaderboard (stats: MeshStats | null, now: number): string {
  return renderPage('leaderboard', leaderboardParts(stats, now), now)
}
