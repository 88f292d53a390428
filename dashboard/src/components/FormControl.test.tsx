import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import { FormControl } from "./FormControl";

afterEach(cleanup);

const describedText = (el: HTMLElement) =>
  (el.getAttribute("aria-describedby") ?? "")
    .split(" ")
    .filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent);

describe("FormControl", () => {
  it("labels the control and describes it by the hint while there is no error", () => {
    render(<FormControl id="vus" label="Virtual users" hint="1 to 1000.">{(props) => <input {...props} />}</FormControl>);
    const input = screen.getByLabelText("Virtual users");
    expect(input.id).toBe("vus");
    expect(input.getAttribute("aria-invalid")).toBeNull();
    expect(describedText(input)).toEqual(["1 to 1000."]);
  });

  it("replaces the hint by the error, and marks the control invalid", () => {
    render(
      <FormControl id="vus" label="Virtual users" hint="1 to 1000." error="must be a whole number from 1 to 1000">
        {(props) => <input {...props} />}
      </FormControl>,
    );
    const input = screen.getByLabelText("Virtual users");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(describedText(input)).toEqual(["must be a whole number from 1 to 1000"]);
    expect(screen.queryByText("1 to 1000.")).toBeNull();
  });

  it("describes nothing without a hint or an error", () => {
    render(<FormControl id="kind" label="Test type">{(props) => <select {...props} />}</FormControl>);
    expect(screen.getByLabelText("Test type").hasAttribute("aria-describedby")).toBe(false);
  });
});
