import * as fs from 'fs';
import * as path from 'path';

/**
 * Where the tests put their screenshots: an ignored folder (ui-tests/screenshots), so that `make test` leaves
 * the checkout clean. `make screenshots` sets GPUSCOPE_SCREENSHOTS to docs/screenshots,
 * the README's images.
 */
export const SCREENSHOTS = path.resolve(
  process.env.GPUSCOPE_SCREENSHOTS ?? path.join(__dirname, '..', 'screenshots')
);
fs.mkdirSync(SCREENSHOTS, { recursive: true });
