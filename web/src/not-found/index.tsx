import { PageTitle } from "../app/ui.tsx";

export function NotFoundPage({ path }: { path: string }) {
  return (
    <section class="panel not-found">
      <PageTitle title="Not found">Page not found</PageTitle>
      <p>
        Nothing lives at <code>{path}</code>.
      </p>
      <p>
        <a href="/">Back to the dashboard</a>
      </p>
    </section>
  );
}
